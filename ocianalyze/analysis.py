"""The analysis, run once per command: a verification (or a loaded model) in, a ``Report`` out.

Renderers (``report/``) are pure functions of a ``Report``: everything they show is in it, so
they never see the readers or the verifier. No I/O here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import mediatypes as mt
from .digest import Digest, chain_ids
from .errors import Problem, Severity
from .model import Descriptor, ExportModel, Image, ManifestKind
from .record import record, replace

if TYPE_CHECKING:  # only attributes are read: the layering keeps report/ off the verifier
    from .merge import MergeResult
    from .trust.result import TrustResult
    from .verify import Verification
    from .walker import BlobScan

DEFAULT_TOP = 10
# `docker save` (Docker 25+ too) stores each layer as the uncompressed tar it unpacked and names
# it by that tar's sha256: a blob the exporting tool computed, not the one the registry served.
_RECOMPUTING_FORMAT = "docker-archive"


@record
class LayerFacts:
    descriptor: Descriptor
    diff_id: Digest | None  # measured when scanned, else as the config claims
    scan: BlobScan | None
    verified: bool
    chain_id: Digest | None = None  # from the config's diff_ids, as containerd names snapshots
    used_by: int = 1  # images of the export that use this blob
    recomputed: bool = False  # stored uncompressed under a digest the exporting tool computed

    @property
    def lazy_format(self) -> str | None:
        """Layers built for lazy pulling keep a table of contents; name the format."""
        keys = {k for k, _ in self.descriptor.annotations}
        if any(k.startswith("io.github.containers.zstd-chunked.") for k in keys):
            return "zstd:chunked"
        if "containerd.io/snapshot/stargz/toc.digest" in keys:
            return "estargz"
        return None


@record
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
    saved_by_docker: bool = False,
) -> list[LayerFacts]:
    """One ``LayerFacts`` per layer of ``image``, base first.

    ``saved_by_docker``: the export was written by `docker save`, whose uncompressed layers
    are named by their own sha256 (so such a layer's digest equals its diff_id).
    """
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
        recomputed = _recomputed(image, desc, diff_id, saved_by_docker)
        used = users.get(desc.digest, 1)
        out.append(LayerFacts(desc, diff_id, result, ok, chain, used, recomputed))
    return out


def _recomputed(image: Image, desc: Descriptor, diff_id: Digest | None, docker: bool) -> bool:
    """A legacy save keeps no manifest: every layer is named by its diff_id. A Docker 25+ save
    names its uncompressed layers by their sha256 too (the manifest is rewritten on save)."""
    if image.manifest_descriptor is None:
        return True
    uncompressed = mt.declared_compression(desc.media_type) is mt.Compression.NONE
    return docker and uncompressed and diff_id == desc.digest


def totals(layers: list[LayerFacts]) -> Totals:
    def total(attr: str) -> int:
        return sum(getattr(f.scan.tar, attr) for f in layers if f.scan and f.scan.tar)

    return Totals(
        size=sum(f.descriptor.size for f in layers),
        uncompressed_size=sum(f.scan.uncompressed_size or 0 for f in layers if f.scan),
        file_bytes=total("file_bytes"),
        disk_bytes=total("disk_bytes"),
    )


@record
class ImageAnalysis:
    image: Image
    layers: list[LayerFacts]
    totals: Totals
    merge: MergeResult | None  # when every layer was read with its entries


def merge_image(
    image: Image, scans: dict[Digest, BlobScan], top: int = DEFAULT_TOP
) -> MergeResult | None:
    """The merged filesystem and waste of ``image``, when every layer was read with entries."""
    if image.kind is not ManifestKind.IMAGE or not image.layers:
        return None
    tables = [scans[d.digest].entries if d.digest in scans else None for d in image.layers]
    if any(t is None for t in tables):
        return None
    digests = [str(d.digest) for d in image.layers]
    from .merge import merge  # only with every layer's entries: inspect merges nothing

    return merge(tables, top, digests=digests)  # type: ignore[arg-type]


def analyze(
    images: tuple[Image, ...],
    scans: dict[Digest, BlobScan],
    verified: set[Digest],
    top: int = DEFAULT_TOP,
    saved_by_docker: bool = False,
) -> list[ImageAnalysis]:
    """One ``ImageAnalysis`` per image, in order; ``top`` bounds the waste and largest lists."""
    users: dict[Digest, int] = {}
    for image in images:
        for d in {d.digest for d in image.layers}:
            users[d] = users.get(d, 0) + 1
    out = []
    for image in images:
        facts = layer_facts(image, scans, verified, users, saved_by_docker)
        out.append(ImageAnalysis(image, facts, totals(facts), merge_image(image, scans, top)))
    return out


@record
class Report:
    """Everything a renderer shows about one export.

    ``verified`` tells a verification (every blob read: ``images`` carry scans and totals)
    from a metadata-only look (`inspect`). ``ok`` is the verdict: for a verification, no error
    (with ``strict``, no warning either; a notice never fails); for metadata, no error among
    ``problems``.
    ``blobs_read`` counts the blobs read in full; ``top`` bounds every list of largest items.
    """

    path: str  # as the user gave it
    format: str  # the export format's name, as the JSON contract spells it
    model: ExportModel
    problems: tuple[Problem, ...]
    images: tuple[ImageAnalysis, ...]  # one per model.images, same order
    verified: bool = False
    ok: bool = True
    strict: bool = False
    blobs_read: int = 0
    top: int = DEFAULT_TOP
    unreferenced: tuple[str, ...] = ()  # members of a one-pass stream that nothing names
    trust: TrustResult | None = None  # signatures and pins, when a trust option was given

    def analysis_of(self, image: Image) -> ImageAnalysis:
        """The analysis of one of ``model.images`` (matched by identity, not equality)."""
        return next(a for a in self.images if a.image is image)


def summarize(
    v: Verification,
    top: int = DEFAULT_TOP,
    strict: bool = False,
    trust: TrustResult | None = None,
) -> Report:
    """The report of a verification: per-image layer facts, totals and waste, and the verdict.
    ``trust``: the signature check's result; its problems join the verdict."""
    fmt = _format_name(v.export.format)
    model = v.export.model
    analyses = analyze(model.images, v.scans, v.verified(), top, fmt == _RECOMPUTING_FORMAT)
    # The merge finds what one layer cannot show (a hardlink whose target no layer holds).
    merged = tuple(
        replace(p, path=a.image.name)
        for a in analyses
        if a.merge is not None
        for p in a.merge.problems
    )
    problems = v.problems + merged + (trust.problems if trust else ())
    return Report(
        path=v.export.path,
        format=fmt,
        model=model,
        problems=problems,
        images=tuple(analyses),
        verified=True,
        ok=not any(p.fails(strict) for p in problems),
        strict=strict,
        blobs_read=len(v.scans),
        top=top,
        unreferenced=v.unreferenced,
        trust=trust,
    )


def _format_name(fmt: object) -> str:
    """The format's JSON name: an enum's value, or the name itself."""
    return str(getattr(fmt, "value", fmt))


def describe(path: str, fmt: object, model: ExportModel) -> Report:
    """The report of an export's metadata alone (`inspect`): no blob read, no measurement.

    ``fmt`` is the export format (its enum, or its JSON name)."""
    fmt = _format_name(fmt)
    analyses = analyze(model.images, {}, set(), 0, fmt == _RECOMPUTING_FORMAT)
    ok = not any(p.severity is Severity.ERROR for p in model.problems)
    return Report(path, fmt, model, model.problems, tuple(analyses), verified=False, ok=ok)
