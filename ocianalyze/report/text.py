"""Plain-text renderers: one block per image, tables that fit 100 columns."""

from __future__ import annotations

from ..analysis import layer_facts, totals
from ..model import Image
from ..sources.base import Export
from ..verify import Verification
from .units import human


def _title(image: Image) -> str:
    refs = ", ".join(image.refs) or "(no name)"
    platform = str(image.platform) if image.platform else "unknown platform"
    return f"{refs}  [{image.kind.value}, {platform}]"


def _header(image: Image) -> list[str]:
    md = image.manifest_descriptor
    lines = [_title(image)]
    if md is not None:
        lines.append(f"  manifest  {md.digest}  {md.media_type}")
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


def report_text(v: Verification) -> str:
    export = v.export
    lines = [f"{export.path}: {export.format.value}, {len(export.model.images)} image(s)", ""]
    good = v.verified()
    for image in export.model.images:
        lines += _header(image)
        facts = layer_facts(image, v.scans, good)
        lines.append(
            _ROW.format("#", "layer", "comp", "stored", "uncompressed", "files", "on disk", "ok")
        )
        for i, f in enumerate(facts, 1):
            s, tar = f.scan, f.scan.tar if f.scan else None
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
        t = totals(facts)
        lines.append(
            _ROW.format(
                "",
                "total",
                "",
                human(t.size),
                human(t.uncompressed_size),
                "",
                human(t.disk_bytes),
                "",
            )
        )
        lines.append("")
    lines += [p.line() for p in v.problems]
    lines.append("verified: all blobs match" if v.ok() else "FAILED: see problems above")
    return "\n".join(lines) + "\n"
