"""Plain-text renderers of a ``Report``: one block per image, tables that fit 100 columns.

Every string that comes from the export goes through ``printable``: no line can be forged.
"""

from __future__ import annotations

from ..analysis import ImageAnalysis, Report
from ..merge import MergeResult
from ..model import Image, ManifestKind
from ..trust.result import describe
from .escape import printable
from .units import human


def _title(image: Image) -> str:
    refs = _clip(", ".join(image.refs), 60) or "(no name)"
    platform = printable(str(image.platform)) if image.platform else "unknown platform"
    return f"{refs}  [{image.kind.value}, {platform}]"


def _header(image: Image) -> list[str]:
    md = image.manifest_descriptor
    lines = [_title(image)]
    if md is not None:
        lines.append(f"  manifest  {md.digest}")
        lines.append(f"  mime      {printable(md.media_type)}")
    else:
        lines.append("  manifest  (none: legacy docker save)")
    lines.append(f"  image ID  {image.config_descriptor.digest}")
    if image.config and image.config.created:
        lines.append(f"  created   {printable(image.config.created)}")
    return lines


def _source(r: Report) -> str:
    return f"{printable(r.path)}: {printable(r.format)}, {len(r.model.images)} image(s)"


def inspect_text(r: Report) -> str:
    """`inspect`: each image's names, platform, manifest, image ID and stored layer bytes."""
    lines = [_source(r), ""]
    for image in r.model.images:
        size = sum(d.size for d in image.layers)
        lines += _header(image)
        lines.append(f"  layers    {len(image.layers)}, {human(size)} ({size} bytes) stored")
        lines.append("")
    for absent in r.model.absent:
        platform = absent.descriptor.platform
        plat = f" ({printable(str(platform))})" if platform else ""
        lines.append(f"absent: {absent.descriptor.digest}{plat}")
    return "\n".join(lines).rstrip() + "\n"


def verify_text(r: Report) -> str:
    """`verify`: one line per problem, then the verdict with the number of blobs read."""
    lines = [printable(p.line()) for p in r.problems]
    if r.trust is not None:
        lines += [
            f"signature: {printable(describe(e))} [{printable(e.source)}]" for e in r.trust.evidence
        ]
        lines += [f"note: {printable(n)}" for n in r.trust.notes]
    verdict = "OK" if r.ok else "FAILED"
    lines.append(
        f"{printable(r.path)}: {verdict}: {r.blobs_read} blobs read, {len(r.problems)} problem(s)"
    )
    return "\n".join(lines) + "\n"


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
            f"    {human(w.bytes):>9}  {printable(w.how)} in layer {w.by_layer + 1}, "
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


def _signatures(r: Report, image: Image) -> list[str]:
    """The signatures and attestations covering the image, when a trust option was given."""
    if r.trust is None:
        return []
    evidence, signed = r.trust.of(r.model.images, image)
    if not evidence and image.kind is not ManifestKind.IMAGE:
        return []  # a signature or artifact manifest: nothing signs those
    head = "  signed    " + ("yes" if signed else "no (no verified signature covers it)")
    return [head, *(f"    {printable(describe(e))}" for e in evidence)]


def report_text(r: Report) -> str:
    """`report`: each image's header, layer table and waste, then the problems and verdict."""
    lines = [_source(r), ""]
    for a in r.images:
        lines += _header(a.image)
        lines += _signatures(r, a.image)
        lines += _layers_table(a)
        if a.merge is not None:
            lines += _waste(a.merge)
        lines.append("")
    lines += [printable(p.line()) for p in r.problems]
    lines.append("verified: all blobs match" if r.ok else "FAILED: see problems above")
    return "\n".join(lines) + "\n"
