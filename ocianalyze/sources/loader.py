"""Builds the model from an export's JSON documents, whatever the format.

Walks (nested) indexes to manifests and configs. Each metadata blob is read and parsed once per
digest however often it is referenced (an index listing the next one eight times, seven levels
deep, is eight documents, not two million paths); names reach the manifests below an index
through a second, memoised pass. What each read found (size, digest of the bytes) is recorded
for the verifier's rules; a document that cannot be read or parsed is a problem on that blob,
and the rest of the export is still loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import mediatypes as mt
from ..digest import Digest
from ..errors import BadManifest, InvalidDigest, Kind, OciError, Problem, Unreadable, UnsafePath
from ..model import (
    Absent,
    Descriptor,
    ExportModel,
    Image,
    ImageConfig,
    Index,
    IndexRef,
    Manifest,
    classify,
    load_json,
    parse_config,
    parse_index,
    parse_manifest,
)
from ..record import field, record
from .base import Observed, Storage, read_small

MAX_DEPTH = 8  # nested indexes deeper than this are refused
MAX_CHILDREN = 65_536  # descriptors one index may list
REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"


@record(frozen=False)
class _Node:
    """One manifest or index digest met while walking, parsed once."""

    descriptor: Descriptor
    parents: list[Digest | None] = field(default_factory=list)  # None: listed by index.json
    parent_set: set[Digest | None] = field(default_factory=set)
    refs: dict[str, None] = field(default_factory=dict)  # names index.json gives it (in order)
    doc: Index | Manifest | None = None
    state: str = "new"  # new, walking, done


class Loader:
    """Builds an ExportModel, collecting problems instead of stopping at the first one."""

    def __init__(self, storage: Storage, locate: Callable[[Digest], str]) -> None:
        self.storage, self.locate = storage, locate
        self.images: list[Image] = []
        self.indexes: list[IndexRef] = []
        self.absent: list[Absent] = []
        self.problems: list[Problem] = []
        self.locations: dict[Digest, str] = {}
        self.observed: dict[Digest, Observed] = {}
        self._nodes: dict[Digest, _Node] = {}
        self._order: list[Digest] = []

    def model(self) -> ExportModel:
        return ExportModel(
            tuple(self.images), tuple(self.indexes), tuple(self.absent), tuple(self.problems)
        )

    def size(self, name: str) -> int | None:
        """The size of ``name`` in bytes; None when absent. A name the file system will not
        stat (permission, a link loop, a link out of the export) counts as present with size
        -1: the verifier's read of it reports why, as a problem on that blob."""
        try:
            return self.storage.size(name)
        except OciError:
            return -1

    def problem(self, kind: Kind, digest: Digest | None, where: str, message: str) -> None:
        self.problems.append(Problem(kind, str(digest) if digest else None, where, message))

    # --- reading one metadata blob ---------------------------------------------------------

    def blob_json(self, desc: Descriptor, where: str) -> Any | None:
        """Read and parse a metadata blob, recording what was read; None when absent,
        ``False`` when present but unusable (the problem is recorded)."""
        name = self.locate(desc.digest)
        self.locations[desc.digest] = name
        try:
            data = read_small(self.storage, name)
        except UnsafePath as exc:
            self.problem(Kind.BLOB_OUTSIDE_EXPORT, desc.digest, where, f"{name}: {exc.problem}")
            return False
        except Unreadable as exc:
            self.problem(Kind.UNREADABLE_BLOB, desc.digest, where, f"{name}: {exc.problem}")
            return False
        except BadManifest as exc:
            self.problem(Kind.BAD_METADATA, desc.digest, where, exc.problem)
            return False
        if data is None:
            return None
        return self.parse_read(desc, data, where)

    def parse_read(self, desc: Descriptor, data: bytes, where: str) -> Any:
        """Record what ``data`` (the bytes stored for ``desc``) is, then parse it."""
        actual = Digest.of(data, desc.digest.algorithm) if desc.digest.hashable else None
        self.observed[desc.digest] = Observed(actual, len(data))
        try:
            return load_json(data, f"{self.storage.where}: {self.locations[desc.digest]}")
        except BadManifest as exc:
            self.problem(Kind.BAD_METADATA, desc.digest, where, exc.problem)
            return False

    # --- walking indexes ---------------------------------------------------------------------

    def walk_roots(self, roots: tuple[Descriptor, ...]) -> None:
        """Walk every descriptor index.json lists (or the one top-level document)."""
        for desc in roots:
            refs = tuple(
                r for r in (desc.annotation(CONTAINERD_NAME), desc.annotation(REF_NAME)) if r
            )
            node = self._visit(desc, None)
            node.refs.update(dict.fromkeys(refs))
            self._expand(desc.digest, 0)  # depth first: images keep the order of the listing
        self._finish()

    def _visit(self, desc: Descriptor, parent: Digest | None) -> _Node:
        node = self._nodes.get(desc.digest)
        if node is None:
            node = self._nodes[desc.digest] = _Node(desc)
            self._order.append(desc.digest)
        elif (
            desc.platform and node.descriptor.platform and desc.platform != node.descriptor.platform
        ):
            self.problem(
                Kind.PLATFORM_MISMATCH,
                desc.digest,
                str(desc.digest),
                f"listed as {node.descriptor.platform} and as {desc.platform}: shown as the first",
            )
        if parent not in node.parent_set:
            node.parent_set.add(parent)
            node.parents.append(parent)
        return node

    def _expand(self, digest: Digest, depth: int) -> None:
        node = self._nodes[digest]
        if node.state in ("done", "absent"):
            return
        where = str(digest)
        if node.state == "walking" or depth > MAX_DEPTH:
            node.state = "done"
            self.problem(
                Kind.BAD_METADATA, digest, where, "index references itself or nests too deeply"
            )
            return
        node.state = "walking"
        value = self.blob_json(node.descriptor, where)
        if value is not None and value is not False:
            try:
                node.doc = self._parse(node.descriptor, value)
            except OciError as exc:  # a malformed document spoils only its own subtree
                self.problem(Kind.BAD_METADATA, digest, where, exc.problem)
        if isinstance(node.doc, Index):
            for child in node.doc.manifests[:MAX_CHILDREN]:
                self._visit(child, digest)
                self._expand(child.digest, depth + 1)
            if len(node.doc.manifests) > MAX_CHILDREN:
                self.problem(
                    Kind.BAD_METADATA,
                    digest,
                    where,
                    f"index lists {len(node.doc.manifests)} descriptors; only the first "
                    f"{MAX_CHILDREN} were read",
                )
        node.state = "absent" if value is None else "done"

    def _parse(self, desc: Descriptor, value: Any) -> Index | Manifest | None:
        where = f"{self.storage.where}: {desc.digest}"
        media_type = desc.media_type
        if media_type not in mt.INDEX_TYPES | mt.MANIFEST_TYPES:
            if not isinstance(value, dict) or ("layers" not in value and "manifests" not in value):
                self.problem(
                    Kind.UNKNOWN_MEDIA_TYPE,
                    desc.digest,
                    str(desc.digest),
                    f"not a manifest or index: {desc.media_type}",
                )
                return None
            media_type = mt.OCI_INDEX if "manifests" in value else mt.OCI_MANIFEST
        if media_type in mt.INDEX_TYPES:
            return parse_index(value, where)
        return parse_manifest(value, where)

    def _refs(self, digest: Digest, memo: dict[Digest, tuple[str, ...]]) -> tuple[str, ...]:
        """Every name that reaches ``digest``: its own, and its parent indexes' (memoised)."""
        if digest in memo:
            return memo[digest]
        memo[digest] = ()  # a cycle adds nothing
        node = self._nodes[digest]
        names = dict(node.refs)  # an ordered set: merging stays linear in the names
        for parent in node.parents:
            if parent is not None:
                names.update(dict.fromkeys(self._refs(parent, memo)))
        memo[digest] = tuple(names)
        return memo[digest]

    def _finish(self) -> None:
        memo: dict[Digest, tuple[str, ...]] = {}
        for digest in self._order:
            node = self._nodes[digest]
            refs = self._refs(digest, memo)
            parent = next(iter(node.parents), None)
            if node.state == "absent":
                self.absent.append(Absent(refs, node.descriptor, parent))
            elif isinstance(node.doc, Index):
                self.indexes.append(IndexRef(refs, node.descriptor, node.doc))
            elif isinstance(node.doc, Manifest):
                self.image(node.descriptor, node.doc, refs, parent)

    # --- images ------------------------------------------------------------------------------

    def image(
        self, desc: Descriptor, manifest: Manifest, refs: tuple[str, ...], parent: Digest | None
    ) -> None:
        where = refs[0] if refs else str(desc.digest)
        config = self.config(manifest, where)
        for layer in manifest.layers:
            self.locations[layer.digest] = self.locate(layer.digest)
        attests = desc.annotation("vnd.docker.reference.digest")
        platform = desc.platform or (config.platform if config else None)
        self.images.append(
            Image(
                refs=refs,
                kind=classify(manifest),
                manifest_descriptor=desc,
                manifest=manifest,
                index_digest=parent,
                config_descriptor=manifest.config,
                config=config,
                layers=manifest.layers,
                platform=platform,
                attests=_maybe_digest(attests),
            )
        )

    def config(self, manifest: Manifest, where: str) -> ImageConfig | None:
        """Read and parse a manifest's image config. A config of another media type is read
        too when the manifest has layers of a layer media type (its media type is a label: a
        runnable-looking image keeps its diff_id checks); otherwise (an artifact's config)
        the verifier only hashes it."""
        desc = manifest.config
        self.locations.setdefault(desc.digest, self.locate(desc.digest))
        declared = desc.media_type in mt.CONFIG_TYPES
        if not declared and not any(mt.is_layer(d.media_type) for d in manifest.layers):
            return None
        value = self.blob_json(desc, where)
        if value is None or value is False:
            return None
        try:
            return parse_config(value, f"{self.storage.where}: {desc.digest}")
        except OciError as exc:
            if declared:
                self.problem(Kind.BAD_METADATA, desc.digest, where, exc.problem)
            return None


def _maybe_digest(value: str | None) -> Digest | None:
    try:
        return Digest.parse(value) if value else None
    except InvalidDigest:
        return None
