"""Figures derived from the model and the scans: per-layer facts and per-image totals. No I/O."""

from __future__ import annotations

from dataclasses import dataclass

from .digest import Digest, chain_ids
from .merge import MergeResult, merge
from .model import Descriptor, Image, ManifestKind
from .walker import BlobScan


@dataclass(frozen=True, slots=True)
class LayerFacts:
    descriptor: Descriptor
    diff_id: Digest | None  # measured when scanned, else as the config claims
    scan: BlobScan | None
    verified: bool
    chain_id: Digest | None = None  # from the config's diff_ids, as containerd names snapshots
    used_by: int = 1  # images of the export that use this blob

    @property
    def lazy_format(self) -> str | None:
        """Layers built for lazy pulling keep a table of contents; name the format."""
        keys = {k for k, _ in self.descriptor.annotations}
        if any(k.startswith("io.github.containers.zstd-chunked.") for k in keys):
            return "zstd:chunked"
        if "containerd.io/snapshot/stargz/toc.digest" in keys:
            return "estargz"
        return None


@dataclass(frozen=True, slots=True)
class Totals:
    size: int  # compressed transfer size: the layer descriptors, config excluded
    uncompressed_size: int
    file_bytes: int
    disk_bytes: int


def layer_facts(
    image: Image,
    scans: dict[Digest, BlobScan],
    verified: set[Digest] | None = None,
    users: dict[Digest, int] | None = None,
) -> list[LayerFacts]:
    users = users or {}
    claimed = image.config.diff_ids if image.config else ()
    chains = chain_ids(claimed)
    out = []
    for i, desc in enumerate(image.layers):
        result = scans.get(desc.digest)
        diff_id = (
            result.diff_id
            if result and result.diff_id
            else (claimed[i] if i < len(claimed) else None)
        )
        ok = verified is not None and desc.digest in verified
        chain = chains[i] if i < len(chains) else None
        out.append(LayerFacts(desc, diff_id, result, ok, chain, users.get(desc.digest, 1)))
    return out


def totals(layers: list[LayerFacts]) -> Totals:
    def total(attr: str) -> int:
        return sum(getattr(f.scan.tar, attr) for f in layers if f.scan and f.scan.tar)

    return Totals(
        size=sum(f.descriptor.size for f in layers),
        uncompressed_size=sum(f.scan.uncompressed_size or 0 for f in layers if f.scan),
        file_bytes=total("file_bytes"),
        disk_bytes=total("disk_bytes"),
    )


@dataclass(frozen=True, slots=True)
class ImageAnalysis:
    image: Image
    layers: list[LayerFacts]
    totals: Totals
    merge: MergeResult | None  # when every layer was read with its entries


def merge_image(image: Image, scans: dict[Digest, BlobScan], top: int = 10) -> MergeResult | None:
    """The merged filesystem and waste of ``image``, when every layer was read with entries."""
    if image.kind is not ManifestKind.IMAGE or not image.layers:
        return None
    tables = [scans[d.digest].entries if d.digest in scans else None for d in image.layers]
    if any(t is None for t in tables):
        return None
    return merge(tables, top)  # type: ignore[arg-type]


def analyze(
    images: tuple[Image, ...], scans: dict[Digest, BlobScan], verified: set[Digest], top: int = 10
) -> list[ImageAnalysis]:
    users: dict[Digest, int] = {}
    for image in images:
        for d in {d.digest for d in image.layers}:
            users[d] = users.get(d, 0) + 1
    out = []
    for image in images:
        facts = layer_facts(image, scans, verified, users)
        out.append(ImageAnalysis(image, facts, totals(facts), merge_image(image, scans, top)))
    return out
