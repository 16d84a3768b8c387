"""Plain-text renderers of a ``Report``: one block per image, tables that fit 100 columns.

Every string that comes from the export goes through ``printable``: no line can be forged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..analysis import ImageAnalysis, Report
from ..errors import Severity, tally, tally_kinds
from ..model import Image, ManifestKind
from .escape import printable
from .units import human

if TYPE_CHECKING:
    from ..merge import MergeResult


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
    """`verify`: one line per error and warning, one summary line for the notices (`report`
    lists them), the signatures when checked, then the verdict counting the findings of each
    severity in words."""
    lines = [printable(p.line()) for p in r.problems if p.severity is not Severity.NOTICE]
    notices = tally_kinds(p for p in r.problems if p.severity is Severity.NOTICE)
    if notices:
        kinds = ", ".join(f"{k.value} \u00d7{n}" for k, n in notices.items())
        lines.append(f"notices: {kinds} (see report)")
    if r.trust is not None:
        from ..trust.result import describe  # only with a trust option: start-up

        lines += [
            f"signature: {printable(describe(e))} [{printable(e.source)}]" for e in r.trust.evidence
        ]
        lines += [f"note: {printable(n)}" for n in r.trust.notes]
    lines.append(f"{printable(r.path)}: {closing(r)}")
    return "\n".join(lines) + "\n"


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def closing(r: Report) -> str:
    """``OK: 2 blobs verified; 0 errors, 0 warnings, 12 notices`` (``FAILED: 2 blobs read;
    ...`` when the verdict fails): findings counted as ``errors.tally`` counts them."""
    blobs = _count(r.blobs_read, "blob")
    head = f"OK: {blobs} verified" if r.ok else f"FAILED: {blobs} read"
    return f"{head}; {_counts(r)}"


def _counts(r: Report) -> str:
    counts = tally(r.problems)
    return ", ".join(_count(counts[s], s.value) for s in Severity)


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
    from ..trust.result import describe  # only with a trust option: start-up

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
    verdict = "verified: all blobs match" if r.ok else "FAILED: see problems above"
    lines.append(f"{verdict}; {_counts(r)}")
    return "\n".join(lines) + "\n"
