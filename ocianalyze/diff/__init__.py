"""``diff``: what changed between two exports, from blobs down to file contents, and what must
cross to a site that already holds some blobs (the transfer delta).

Images are paired by ref and platform; what cannot be paired is added or removed. Each pair is
compared at every level from one verification of each export, read once with file hashes on
(ScanOptions(collect_entries=True, hash_files=True)): layers by digest and diff_id, config
fields, sizes (analysis.totals), and the merged filesystems path by path (files.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..analysis import LayerFacts, layer_facts, totals
from ..entries import EntryTable
from ..model import Image, ManifestKind, Platform
from ..sources.base import Export
from ..verify import Verification
from .config import compare_config, read_fields
from .delta import delta, held_by
from .files import compare_files
from .result import (
    SCHEMA_VERSION,
    BlobStatus,
    Change,
    ExportDiff,
    FileDiff,
    ImageDiff,
    ImageRef,
    LayerChange,
    SizeChange,
)

__all__ = ["SCHEMA_VERSION", "Change", "ExportDiff", "diff_exports", "held_by", "pair_images"]


def platform_of(image: Image) -> str | None:
    """The image's platform (the index's, else its config's), as ``os/arch[/variant]``."""
    if image.platform is not None:
        return str(image.platform)
    cfg = image.config
    if cfg is None or not (cfg.os or cfg.architecture):
        return None
    return str(Platform(cfg.os, cfg.architecture, cfg.variant))


def _repository(ref: str) -> str:
    """The ref without its tag or digest ("app:1" and "app@sha256:…" -> "app"); a bare word
    (an OCI ref.name is usually a tag alone: "1.0") -> ""."""
    ref, at, _ = ref.partition("@")
    head, _, last = ref.rpartition("/")
    if ":" in last:
        last = last.rsplit(":", 1)[0]
    elif not head and not at:
        return ""  # an org.opencontainers.image.ref.name that is a tag alone
    return f"{head}/{last}" if head else last


_Key = Callable[[Image], Iterable[object]]
_ROUNDS: tuple[_Key, ...] = (
    lambda i: [(r, platform_of(i)) for r in i.refs],  # the same ref and platform
    lambda i: [(_repository(r), platform_of(i)) for r in i.refs or ("",)],  # another tag
)


def pair_images(
    old: list[Image], new: list[Image]
) -> tuple[list[tuple[Image, Image]], list[Image], list[Image]]:
    """(pairs, only in new, only in old). Rounds, each over what is still unpaired, in the
    new export's order: the same ref and platform; the same repository (the ref less its tag;
    unnamed images and bare OCI tags share the empty one) and platform; last, a platform that
    only one image on each side still has."""
    pairs: list[tuple[Image, Image]] = []
    left_old, left_new = list(old), list(new)
    for key in _ROUNDS:
        for n in list(left_new):
            wanted = set(key(n))
            match = next((o for o in left_old if wanted & set(key(o))), None)
            if match is not None:
                pairs.append((match, n))
                left_old.remove(match)
                left_new.remove(n)
    for n in list(left_new):
        same = [o for o in left_old if platform_of(o) == platform_of(n)]
        if len(same) == 1 and sum(platform_of(m) == platform_of(n) for m in left_new) == 1:
            pairs.append((same[0], n))
            left_old.remove(same[0])
            left_new.remove(n)
    return pairs, left_new, left_old


def image_ref(image: Image) -> ImageRef:
    md = image.manifest_descriptor
    digest = md.digest if md is not None else image.config_descriptor.digest
    size = sum(d.size for d in image.layers)
    config = str(image.config_descriptor.digest)
    return ImageRef(image.name, platform_of(image), str(digest), size, config)


def compare_layers(old: list[LayerFacts], new: list[LayerFacts]) -> tuple[LayerChange, ...]:
    """New layers in order (shared, recompressed or added), then the old layers neither
    their digest nor their diff_id kept (removed)."""
    by_digest = {str(f.descriptor.digest): f for f in old}
    by_diff = {str(f.diff_id): f for f in old if f.diff_id is not None}
    out, kept = [], set()
    for f in new:
        digest, diff_id = str(f.descriptor.digest), str(f.diff_id) if f.diff_id else None
        before = by_digest.get(digest)
        status = BlobStatus.shared
        if before is None and diff_id is not None and diff_id in by_diff:
            before, status = by_diff[diff_id], BlobStatus.recompressed
        elif before is None:
            status = BlobStatus.added
        if before is not None:
            kept.add(id(before))
        old_digest = str(before.descriptor.digest) if before else None
        old_size = before.descriptor.size if before else None
        out.append(LayerChange(status, old_digest, digest, diff_id, old_size, f.descriptor.size))
    for f in old:
        if id(f) not in kept:
            diff_id = str(f.diff_id) if f.diff_id else None
            d = f.descriptor
            out.append(LayerChange(BlobStatus.removed, str(d.digest), None, diff_id, d.size, None))
    return tuple(out)


def _measures(facts: list[LayerFacts]) -> tuple[int, int | None, int | None]:
    """(stored, uncompressed, on-disk) bytes of an image's layers; None where one layer
    could not be measured."""
    t = totals(facts)
    measured = all(f.scan is not None and f.scan.tar is not None for f in facts)
    return t.size, t.uncompressed_size if measured else None, t.disk_bytes if measured else None


def compare_sizes(old: list[LayerFacts], new: list[LayerFacts]) -> tuple[SizeChange, ...]:
    names = ("size", "uncompressed_size", "disk_bytes")
    return tuple(
        SizeChange(n, a, b) for n, a, b in zip(names, _measures(old), _measures(new), strict=True)
    )


def _tables(image: Image, v: Verification) -> list[EntryTable] | str:
    """The image's entry tables, base first, or why the files cannot be compared."""
    out = []
    for n, d in enumerate(image.layers, 1):
        scan = v.scans.get(d.digest)
        if scan is None or scan.entries is None:
            return f"{v.export.path}: layer {n} ({d.digest}) could not be read"
        out.append(scan.entries)
    return out


def compare_image(old: Image, new: Image, ov: Verification, nv: Verification) -> ImageDiff:
    """Every level of one pair of images."""
    of, nf = layer_facts(old, ov.scans), layer_facts(new, nv.scans)
    config = compare_config(read_fields(ov.export, old), read_fields(nv.export, new))
    files: FileDiff | None = None
    note = None
    old_ids = [f.diff_id for f in of]
    if old_ids == [f.diff_id for f in nf] and None not in old_ids:
        note = "the same layers (by diff_id): the same files"
    else:
        ot, nt = _tables(old, ov), _tables(new, nv)
        if isinstance(ot, str) or isinstance(nt, str):
            note = ot if isinstance(ot, str) else str(nt)
        else:
            files = compare_files(ot, nt)
    return ImageDiff(
        image_ref(old),
        image_ref(new),
        compare_layers(of, nf),
        config,
        compare_sizes(of, nf),
        files,
        note,
    )


def _images(export: Export, platform: str | None) -> list[Image]:
    return [
        i
        for i in export.model.images
        if i.kind is ManifestKind.IMAGE and (platform is None or platform_of(i) == platform)
    ]


Pairing = tuple[list[tuple[Image, Image]], list[Image], list[Image]]  # pairs, added, removed


def pairing(
    old: Export,
    new: Export,
    chosen: tuple[Image, Image] | None = None,
    platform: str | None = None,
) -> Pairing:
    """The images to compare (pairs, in the new export's order), and those only NEW (added)
    or only OLD (removed) has: ``chosen`` alone when given, else ``pair_images`` over the
    runnable images (of ``platform`` when given)."""
    if chosen is not None:
        return [chosen], [], []
    return pair_images(_images(old, platform), _images(new, platform))


def assemble(
    old: Export,
    new: Export,
    paired: Pairing,
    images: Iterable[ImageDiff],
    held: set[str] | None = None,
    top: int = 10,
) -> ExportDiff:
    """The export diff from the pairing and each pair's ``compare_image``, in pair order."""
    _, added, removed = paired
    return ExportDiff(
        old.path,
        new.path,
        str(getattr(old.format, "value", old.format)),
        str(getattr(new.format, "value", new.format)),
        tuple(images),
        tuple(map(image_ref, added)),
        tuple(map(image_ref, removed)),
        delta(new.model, held_by(old.model) | (held or set())),
        top,
    )


def diff_exports(
    old: Verification,
    new: Verification,
    *,
    chosen: tuple[Image, Image] | None = None,
    platform: str | None = None,
    held: set[str] | None = None,
    top: int = 10,
) -> ExportDiff:
    """Compare two verified exports (read with hash_files for the file level).

    ``chosen``: compare just these two images (``--image``). ``platform``: only images of
    that platform (``os/arch[/variant]``). ``held``: digests the receiving site holds besides
    OLD's blobs, for the transfer delta. ``top``: how many of the largest changes the text and
    markdown renderers show. Attestations, signatures and artifacts are not paired: their
    blobs count in the delta. Every layer's entry table is alive at once here: ``paired``
    (``diff_by_pairs``) reads and compares pair by pair instead."""
    paired = pairing(old.export, new.export, chosen, platform)
    images = (compare_image(o, n, old, new) for o, n in paired[0])
    return assemble(old.export, new.export, paired, images, held, top)
