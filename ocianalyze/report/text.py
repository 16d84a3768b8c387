"""Plain-text renderers: one block per image, tables that fit 100 columns."""

from __future__ import annotations

from ..analysis import ImageAnalysis, analyze
from ..merge import MergeResult
from ..model import Image
from ..sources.base import Export
from ..verify import Verification
from .escape import printable
from .units import human


def _title(image: Image) -> str:
    refs = _clip(", ".join(image.refs), 60) or "(no name)"
    platform = str(image.platform) if image.platform else "unknown platform"
    return f"{refs}  [{image.kind.value}, {platform}]"


def _header(image: Image) -> list[str]:
    md = image.manifest_descriptor
    lines = [_title(image)]
    if md is not None:
        lines.append(f"  manifest  {md.digest}")
        lines.append(f"  mime      {md.media_type}")
    else:
        lines.append("  manifest  (none: legacy docker save)")
    lines.append(f"  image ID  {image.config_descriptor.digest}")
    if image.config and image.config.created:
        lines.append(f"  created   {image.config.created}")
    return lines


def inspect_text(export: Export) -> str:
    lines = [f"{export.path}: {export.format.value}, {len(export.model.images)} image(s)", ""]
    for image in export.model.images:
        size = sum(d.size for d in image.layers)
        lines += _header(image)
        lines.append(f"  layers    {len(image.layers)}, {human(size)} ({size} bytes) stored")
        lines.append("")
    for absent in export.model.absent:
        plat = f" ({absent.descriptor.platform})" if absent.descriptor.platform else ""
        lines.append(f"absent: {absent.descriptor.digest}{plat}")
    return "\n".join(lines).rstrip() + "\n"


_ROW = "  {:>2}  {:<19}  {:<5}  {:>9}  {:>12}  {:>7}  {:>9}  {:<2}"


def _layers_table(a: ImageAnalysis) -> list[str]:
    lines = [_ROW.format("#", "layer", "comp", "stored", "uncompressed", "files", "on disk", "ok")]
    for i, f in enumerate(a.layers, 1):
        s = f.scan
        tar = s.tar if s else None
        lines.append(
            _ROW.format(
                i,
                f.descriptor.digest.encoded[:19],
                s.compression.value if s else "-",
                human(f.descriptor.size),
                human(s.uncompressed_size) if s and s.uncompressed_size is not None else "-",
                tar.files if tar else "-",
                human(tar.disk_bytes) if tar else "-",
                "ok" if f.verified else "NO",
            )
        )
    t = a.totals
    lines.append(
        _ROW.format(
            "", "total", "", human(t.size), human(t.uncompressed_size), "", human(t.disk_bytes), ""
        )
    )
    return lines


def _waste(m: MergeResult) -> list[str]:
    lines = [
        f"  merged    {m.files} files, {human(m.file_bytes)} in files, "
        f"{human(m.disk_bytes)} on disk",
        f"  wasted    {human(m.wasted_bytes)} hidden by later layers "
        f"(efficiency {m.efficiency:.1%})",
    ]
    for w in m.wasted:
        lines.append(
            f"    {human(w.bytes):>9}  {w.how} in layer {w.by_layer + 1}, "
            f"{w.copies} cop{'y' if w.copies == 1 else 'ies'} from layer {w.layer + 1}: "
            f"{_clip(w.path, 40)}"
        )
    for layer, path in m.dangling_whiteouts:
        lines.append(f"    note: whiteout in layer {layer + 1} hides nothing: {_clip(path, 50)}")
    if m.largest:
        lines.append("  largest files")
        lines += [
            f"    {human(size):>9}  layer {layer + 1}  {_clip(path, 70)}"
            for path, size, layer in m.largest
        ]
    return lines


def _clip(text: str, width: int) -> str:
    text = printable(text)
    return text if len(text) <= width else "..." + text[-(width - 3) :]


def report_text(v: Verification, top: int = 10, strict: bool = False) -> str:
    export = v.export
    lines = [f"{export.path}: {export.format.value}, {len(export.model.images)} image(s)", ""]
    for a in analyze(export.model.images, v.scans, v.verified(), top):
        lines += _header(a.image)
        lines += _layers_table(a)
        if a.merge is not None:
            lines += _waste(a.merge)
        lines.append("")
    lines += [p.line() for p in v.problems]
    lines.append("verified: all blobs match" if v.ok(strict) else "FAILED: see problems above")
    return "\n".join(lines) + "\n"
