"""What each platform costs across one or more exports, and what the bundle costs after dedupe.

Layers are identified by diff_id once unpacked (the same layer compressed two ways is stored
once by containerd) and by blob digest on the wire (what a registry stores). Attestations,
signatures and artifacts are not platforms: they are listed apart with their bytes.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from .analysis import layer_facts
from .digest import Digest
from .model import Image, ManifestKind
from .record import record

if TYPE_CHECKING:  # only attributes are read: the layering keeps report/ off the verifier
    from .verify import Verification


@record
class PlatformFootprint:
    platform: str
    images: tuple[str, ...]  # names; EXPORT:NAME when two exports name different images alike
    size: int  # distinct layer blobs, compressed
    uncompressed_size: int  # distinct diff_ids
    disk_bytes: int
    shared_disk_bytes: int  # layers also used by another image (of any platform)
    unique_disk_bytes: int


@record
class OtherManifest:
    kind: str
    name: str
    size: int  # its config and layer blobs


@record
class SharedLayer:
    """One layer (by diff_id) and who uses it, for bundles of many images."""

    diff_id: Digest
    disk_bytes: int
    images: int
    platforms: tuple[str, ...]


@record
class Footprint:
    platforms: tuple[PlatformFootprint, ...]
    others: tuple[OtherManifest, ...]
    layers: tuple[SharedLayer, ...]  # every distinct layer, most used first
    bundle_size: int  # every distinct blob: manifests, configs, layers
    bundle_uncompressed_size: int
    bundle_disk_bytes: int


def _identity(image: Image) -> Digest:
    md = image.manifest_descriptor
    return md.digest if md else image.config_descriptor.digest


@record(frozen=False)
class _Layer:
    blob: Digest
    size: int
    uncompressed: int
    disk: int


def footprint(results: list[Verification]) -> Footprint:
    """What each platform of ``results`` costs, what is shared, and the deduplicated bundle."""
    users: dict[Digest, set[Digest]] = defaultdict(set)  # diff_id -> images using it
    per_platform: dict[str, dict[Digest, _Layer]] = defaultdict(dict)
    names: dict[str, dict[Digest, str]] = defaultdict(dict)
    blobs: dict[Digest, int] = {}
    others: dict[Digest, OtherManifest] = {}
    clashing = _clashing_names(results)
    for v in results:
        for image in v.export.model.images:
            _blobs(image, blobs)
            name = _label(v, image.name, clashing)
            if image.kind is not ManifestKind.IMAGE:
                size = image.config_descriptor.size + sum(d.size for d in image.layers)
                others[_identity(image)] = OtherManifest(image.kind.value, name, size)
                continue
            key = str(image.platform) if image.platform else "unknown"
            names[key].setdefault(_identity(image), name)
            for f in layer_facts(image, v.scans):
                diff = f.diff_id or f.descriptor.digest
                users[diff].add(_identity(image))
                tar = f.scan.tar if f.scan else None
                per_platform[key][diff] = _Layer(
                    f.descriptor.digest,
                    f.descriptor.size,
                    f.scan.uncompressed_size or 0 if f.scan else 0,
                    tar.disk_bytes if tar else 0,
                )
    platforms = tuple(
        _platform(k, names[k], layers, users) for k, layers in sorted(per_platform.items())
    )
    distinct = {d: layer for layers in per_platform.values() for d, layer in layers.items()}
    shared = tuple(
        sorted(
            (
                SharedLayer(
                    d,
                    x.disk,
                    len(users[d]),
                    tuple(k for k, layers in sorted(per_platform.items()) if d in layers),
                )
                for d, x in distinct.items()
            ),
            key=lambda s: (-s.images, -s.disk_bytes, str(s.diff_id)),
        )
    )
    return Footprint(
        platforms,
        tuple(others.values()),
        shared,
        sum(blobs.values()),
        sum(x.uncompressed for x in distinct.values()),
        sum(x.disk for x in distinct.values()),
    )


def _clashing_names(results: list[Verification]) -> set[str]:
    """Names that two exports give to different images: those are shown as ``EXPORT:NAME``
    (the export's path as given, as skopeo's ``docker-archive:PATH:REF`` names an image)."""
    seen: dict[str, tuple[int, Digest]] = {}
    clashing: set[str] = set()
    for i, v in enumerate(results):
        for image in v.export.model.images:
            first = seen.setdefault(image.name, (i, _identity(image)))
            if first[0] != i and first[1] != _identity(image):
                clashing.add(image.name)
    # An image may be named what another's qualified label reads (``A:latest`` in export D,
    # beside ``latest`` qualified by export A): that name is qualified by its export too.
    labels = {f"{v.export.path}:{n}" for v in results for n in clashing}
    return clashing | {n for v in results for n in _names(v) if n in labels}


def _names(v: Verification) -> set[str]:
    return {image.name for image in v.export.model.images}


def _label(v: Verification, name: str, clashing: set[str]) -> str:
    """``name`` as `footprint` shows it: ``EXPORT:NAME`` when it is among ``clashing`` (the
    export's path is read only then: one export alone may come without one)."""
    return f"{v.export.path}:{name}" if name in clashing else name


def _blobs(image: Image, blobs: dict[Digest, int]) -> None:
    if image.manifest_descriptor:
        blobs[image.manifest_descriptor.digest] = image.manifest_descriptor.size
    blobs[image.config_descriptor.digest] = image.config_descriptor.size
    for d in image.layers:
        blobs[d.digest] = d.size


def _platform(
    key: str,
    names: dict[Digest, str],
    layers: dict[Digest, _Layer],
    users: dict[Digest, set[Digest]],
) -> PlatformFootprint:
    disk = sum(x.disk for x in layers.values())
    shared = sum(x.disk for d, x in layers.items() if len(users[d]) > 1)
    wire = {x.blob: x.size for x in layers.values()}
    return PlatformFootprint(
        key,
        tuple(names.values()),
        sum(wire.values()),
        sum(x.uncompressed for x in layers.values()),
        disk,
        shared,
        disk - shared,
    )
