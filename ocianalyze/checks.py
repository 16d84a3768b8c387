"""Every descriptor, config, history and cross-reference rule, in one place.

Problems come from exactly three places: these rules, the tar-entry safety checks
(``safety.py``) and the walker (stream and tar structure, reported as a scan's findings and
turned into problems here). The rules look at the model and at what reading found (a metadata
blob's ``Observed`` bytes, a blob's ``BlobScan``); they never read bytes and never look at an
export's format, a label or a ref name: a legacy save's layer differs only by the facts its
descriptor carries (``digest_is_diff_id``, ``compression_declared``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from . import mediatypes as mt
from .digest import Digest
from .errors import Kind, OciError, Problem, Unreadable, UnsafePath
from .model import Descriptor, Image, ManifestKind
from .sources.base import Export

if TYPE_CHECKING:  # only attributes are read
    from .walker import BlobScan


def blob_problems(desc: Descriptor, digest: Digest | None, size: int, where: str) -> list[Problem]:
    """Size first, then digest (image-spec descriptor.md: a length mismatch means the content
    must not be trusted). ``digest`` is what the stored bytes hash to by the descriptor's
    algorithm, None when that algorithm is not one we hash."""
    d = str(desc.digest)
    if size != desc.size:
        return [
            _p(
                Kind.SIZE_MISMATCH,
                d,
                where,
                f"{d}: descriptor says {desc.size} bytes, blob has {size}",
            )
        ]
    if digest is None or not desc.digest.hashable:
        return []  # reported once, by unverifiable_digests
    if digest != desc.digest:
        return [_p(Kind.DIGEST_MISMATCH, d, where, f"expected {d}, got {digest}")]
    return []


def scanned_blob_problems(desc: Descriptor, scan: BlobScan, where: str) -> list[Problem]:
    """The stored-bytes rules for a scanned blob. A layer named by its diff_id (legacy save)
    claims that its stored bytes hash to that digest only when they are stored uncompressed:
    ``docker load`` also takes compressed layer files, whose diff_id the layer rules check."""
    digest: Digest | None = scan.digest
    if desc.digest_is_diff_id:
        digest = None  # its one claim is the diff_id: the layer rules (or --fast's) check it
    if desc.digest.hashable and scan.digest.algorithm != desc.digest.algorithm:
        # Only a one-pass stream hashes by the member's path (blobs/sha512/…): a descriptor
        # that names it by another algorithm, through a link, cannot be checked: fail closed.
        d = str(desc.digest)
        message = (
            f"{d}: the stream member holding it was hashed with {scan.digest.algorithm}, "
            f"as its path says; read it from a directory or a seekable tar to check it"
        )
        return [_p(Kind.DIGEST_MISMATCH, d, where, message)]
    return blob_problems(desc, digest, scan.size, where)


def layer_problems(
    desc: Descriptor, scan: BlobScan, diff_id: Digest | None, where: str
) -> list[Problem]:
    """What the walker found in a layer, its compression against its media type, and its
    diff_id against the config's (image-spec config.md: the sha256 of the uncompressed tar)."""
    d = str(desc.digest)
    out = [Problem(kind, d, where, f"{d}: {msg}", n) for kind, msg, n in scan.findings]
    declared = mt.declared_compression(desc.media_type)
    # An unsupported compression's finding says it all; an undeclared one is sniffed.
    mismatch = declared is not None and declared is not scan.compression
    if desc.compression_declared and scan.unsupported is None and mismatch:
        said = declared.value if declared else ""
        out.append(
            _p(
                Kind.MEDIA_TYPE_MISMATCH,
                d,
                where,
                f"{d}: media type {desc.media_type} says {said}, "
                f"content is {scan.compression.value}",
            )
        )
    if diff_id is None and desc.digest_is_diff_id:
        diff_id = desc.digest
    actual = _stored_diff_id(scan)
    if diff_id is not None and actual is not None and actual != diff_id:
        out.append(
            _p(
                Kind.DIFF_ID_MISMATCH,
                d,
                where,
                f"{d}: config diff_id {diff_id}, uncompressed content {actual}",
            )
        )
    elif desc.digest_is_diff_id and actual is None and scan.unsupported is None:
        out.append(
            _p(
                Kind.UNVERIFIABLE_DIGEST,
                d,
                where,
                f"{d}: a {scan.compression.value} layer named by its diff_id was not inflated",
            )
        )
    return out


def untarred_problems(
    desc: Descriptor, scan: BlobScan, diff_id: Digest | None, where: str
) -> list[Problem]:
    """A blob of an unknown media type in a runnable image, sniffed and found to be no tar:
    the config still claims a diff_id for it, which its (uncompressed) bytes must hash to."""
    actual = _stored_diff_id(scan)
    if diff_id is None or actual is None or actual == diff_id:
        return []
    d = str(desc.digest)
    return [_p(Kind.DIFF_ID_MISMATCH, d, where, f"{d}: config diff_id {diff_id}, content {actual}")]


def _stored_diff_id(scan: BlobScan) -> Digest | None:
    """The diff_id a scan measured; for uncompressed bytes only hashed, their sha256."""
    if scan.diff_id is not None:
        return scan.diff_id
    plain = scan.compression is mt.Compression.NONE and scan.unsupported is None
    return scan.digest if plain and scan.digest.algorithm == "sha256" else None


# --- rules on the model alone (inspect and verify share them) ---------------------------------


def metadata_problems(export: Export, images: Iterable[Image], absent: bool) -> list[Problem]:
    """Every rule that needs no blob scanned: metadata blobs against their descriptors,
    presence of every referenced blob, digests we cannot hash, absent manifests, diff_id counts,
    history. ``absent``: include the manifests the export lists but does not hold."""
    images = tuple(images)
    out: list[Problem] = [
        _p(
            Kind.DUPLICATE_ENTRY,
            None,
            name,
            f"the archive holds {name} more than once: the last copy is read, as extraction "
            "keeps it",
        )
        for name in export.duplicate_members
    ]
    if absent:
        out += [
            _absent(a.descriptor, a.refs, a.index_digest is not None) for a in export.model.absent
        ]
        for ref in export.model.indexes:
            out += embedded_problems(
                ref.descriptor, ref.refs[0] if ref.refs else str(ref.descriptor.digest)
            )
        for ref in export.model.indexes:
            out += _observed(
                export, ref.descriptor, ref.refs[0] if ref.refs else str(ref.descriptor.digest)
            )
        for ref in export.model.indexes:
            for child in ref.index.manifests:
                out += embedded_problems(child, ref.refs[0] if ref.refs else str(child.digest))
    for image in images:
        out += _image_rules(export, image)
        out += _platform_rules(image)
    return out


def _platform_rules(image: Image) -> list[Problem]:
    """The index's platform for a manifest against its config's (image-spec image-index.md:
    the platform a runtime selects by must describe what runs)."""
    listed = image.manifest_descriptor.platform if image.manifest_descriptor else None
    config = image.config.platform if image.config else None
    if listed is None or config is None:  # whatever its kind: artifactType is a label
        return []
    same = (listed.os, listed.architecture) == (config.os, config.architecture) and (
        not listed.variant or not config.variant or listed.variant == config.variant
    )
    if same:
        return []
    d = str(image.manifest_descriptor.digest) if image.manifest_descriptor else None
    message = f"the index lists it as {listed}, its config says {config}"
    return [_p(Kind.PLATFORM_MISMATCH, d, image.name, message)]


def embedded_problems(desc: Descriptor, where: str) -> list[Problem]:
    """A descriptor's embedded ``data`` must be the content it names: its length the size, its
    hash the digest (image-spec descriptor.md). Tools that trust ``data`` never read the blob."""
    if desc.data is None:
        return []
    d = str(desc.digest)
    if len(desc.data) != desc.size:
        message = f"{d}: embedded data is {len(desc.data)} bytes, the descriptor says {desc.size}"
        return [_p(Kind.SIZE_MISMATCH, d, where, message)]
    if desc.digest.hashable:
        actual = Digest.of(desc.data, desc.digest.algorithm)
        if actual != desc.digest:
            return [_p(Kind.DIGEST_MISMATCH, d, where, f"{d}: embedded data hashes to {actual}")]
    return []


def _observed(export: Export, desc: Descriptor, where: str) -> list[Problem]:
    seen = export.observed.get(desc.digest)
    return [] if seen is None else blob_problems(desc, seen.digest, seen.size, where)


def location(export: Export, desc: Descriptor) -> str:
    """The storage name of the blob ``desc`` names: its own (a legacy layer file), or the
    name the export's layout gives its digest."""
    return desc.location or export.locations.get(desc.digest, desc.digest.blob_path)


def _present(export: Export, desc: Descriptor) -> bool:
    """True when the export holds the blob, or when the file system would not say (the scan,
    or ``_unreachable``, reports why)."""
    if desc.digest in export.observed:
        return True
    name = location(export, desc)
    try:
        return export.storage.size(name) is not None
    except OciError:
        return True


def _stat_size(export: Export, desc: Descriptor, where: str) -> list[Problem]:
    """A stored size that differs from the descriptor's needs no read: inspect says it too (in
    the words of the verifier's read, so the two reports are one)."""
    if desc.digest in export.observed:
        return []
    name = location(export, desc)
    try:
        size = export.storage.size(name)
    except OciError:
        return []
    return [] if size is None else blob_problems(desc, None, size, where)


def _unreachable(export: Export, desc: Descriptor) -> list[Problem]:
    """A blob whose name leads outside the export, or that the file system refuses to read.
    The same words as the verifier's scan of it, so the two reports are one."""
    if desc.digest in export.observed:
        return []
    name = location(export, desc)
    try:
        export.storage.size(name)
    except UnsafePath as exc:
        return [_p(Kind.BLOB_OUTSIDE_EXPORT, str(desc.digest), exc.where, exc.problem)]
    except Unreadable as exc:
        return [_p(Kind.UNREADABLE_BLOB, str(desc.digest), exc.where, exc.problem)]
    return []


def _image_rules(export: Export, image: Image) -> list[Problem]:
    where = image.name
    out: list[Problem] = []
    if image.manifest_descriptor is not None:
        out += _observed(export, image.manifest_descriptor, where)
    config = image.config_descriptor
    present = [d for d in image.layers if _present(export, d)]
    config_present = _present(export, config)
    nested = image.index_digest is not None  # a platform of a multi-platform index
    if image.layers and not present and not config_present and image.platform and nested:
        message = f"platform {image.platform} has none of its blobs in the export"
        return [*out, _p(Kind.PLATFORM_ABSENT, str(config.digest), where, message)]
    out += _observed(export, config, where)
    if not config_present:
        out.append(
            _p(Kind.MISSING_BLOB, str(config.digest), where, f"config {config.digest} is absent")
        )
    manifest = (image.manifest_descriptor,) if image.manifest_descriptor else ()
    for desc in (*manifest, config, *image.layers):
        out += embedded_problems(desc, where)
        if not desc.digest.hashable:
            out.append(
                _p(
                    Kind.UNVERIFIABLE_DIGEST,
                    str(desc.digest),
                    where,
                    f"digest algorithm {desc.digest.algorithm} cannot be checked: "
                    "blob not verified",
                )
            )
    for desc in (config, *image.layers):
        out += _unreachable(export, desc)
    # An image, or any manifest with a layer of a layer media type (its kind is a label).
    runnable = image.kind is ManifestKind.IMAGE or any(
        mt.is_layer(d.media_type) for d in image.layers
    )
    for desc in image.layers:
        if not _present(export, desc):
            out.append(_missing_layer(desc, where))
        else:
            out += _stat_size(export, desc, where)
        if runnable and desc.compression_declared and not mt.is_layer(desc.media_type):
            d = str(desc.digest)
            message = f"{d}: unknown layer media type {desc.media_type}"
            out.append(_p(Kind.UNKNOWN_MEDIA_TYPE, d, where, message))
    out += _config_rules(image, where)
    return out


def _config_rules(image: Image, where: str) -> list[Problem]:
    if image.config is None:
        return []
    d = str(image.config_descriptor.digest)
    out = []
    diff_ids = image.config.diff_ids
    if len(diff_ids) != len(image.layers):
        out.append(
            _p(
                Kind.DIFF_ID_COUNT,
                d,
                where,
                f"{len(image.layers)} layers but {len(diff_ids)} diff_ids in the config",
            )
        )
    if image.config.history:
        built = sum(1 for h in image.config.history if not h.empty_layer)
        if built != len(diff_ids):
            out.append(
                _p(
                    Kind.HISTORY_MISMATCH,
                    d,
                    where,
                    f"history has {built} layer entries but the config lists "
                    f"{len(diff_ids)} diff_ids",
                )
            )
    return out


def _missing_layer(desc: Descriptor, where: str) -> Problem:
    """A layer the export does not hold. Only a layer whose media type says it is foreign or
    non-distributable (or a legacy save's layer that LayerSources describes with such a media
    type) may be left out on purpose; ``urls`` alone does not make a layer foreign
    (image-spec descriptor.md)."""
    d = str(desc.digest)
    foreign = desc.foreign is not None and desc.foreign.media_type in mt.FOREIGN_LAYER_TYPES
    if desc.media_type in mt.FOREIGN_LAYER_TYPES or foreign:
        urls = desc.urls or (desc.foreign.urls if desc.foreign else ())
        return _p(
            Kind.FOREIGN_LAYER_ABSENT,
            d,
            where,
            f"foreign layer {d} is not in the export (fetched from "
            f"{urls[0] if urls else 'its registry'} at pull time)",
        )
    return _p(Kind.MISSING_BLOB, d, where, f"blob {d} is absent")


def _absent(desc: Descriptor, refs: tuple[str, ...], nested: bool) -> Problem:
    """A listed manifest the export does not hold. Only a platform of a multi-platform index
    (a nested index's child) may be left out of a partial export; a manifest that index.json
    names itself must be there."""
    where = refs[0] if refs else ""
    if desc.platform is not None and nested:
        return _p(
            Kind.PLATFORM_ABSENT,
            str(desc.digest),
            where,
            f"platform {desc.platform} is listed but its manifest is not in the export",
        )
    return _p(Kind.MISSING_BLOB, str(desc.digest), where, f"manifest {desc.digest} is absent")


# A blob that cannot be read is one fact, whichever reader (the loader, the verifier) met it
# and however each worded where it was.
_READ_KINDS = frozenset({Kind.BLOB_OUTSIDE_EXPORT, Kind.UNREADABLE_BLOB, Kind.MISSING_BLOB})


def dedupe(problems: Iterable[Problem]) -> Iterator[Problem]:
    """Each problem once: a blob used by several images is reported once, and a blob that
    cannot be read once (the first report of it is kept). A read problem without a digest
    (a cluster task that failed) is told apart by its ``path``, which names the blob: the
    same cause met by several blobs is one problem each."""
    seen: set[tuple[Kind, str | None, str, str]] = set()
    for p in problems:
        if p.kind not in _READ_KINDS:
            key = (p.kind, p.digest, p.message, "")
        else:
            key = (p.kind, p.digest, "", "") if p.digest else (p.kind, p.digest, p.message, p.path)
        if key not in seen:
            seen.add(key)
            yield p


def _p(kind: Kind, digest: str | None, where: str, message: str) -> Problem:
    return Problem(kind, digest, where, message)


def with_metadata_problems(export: Export) -> Export:
    """The export with every rule that needs no blob read applied: its model's problems are
    then the metadata problems ``verify`` reports too (`inspect` and `verify` agree)."""
    from .record import replace

    found = [*export.model.problems, *metadata_problems(export, export.model.images, True)]
    return replace(export, model=replace(export.model, problems=tuple(dedupe(found))))
