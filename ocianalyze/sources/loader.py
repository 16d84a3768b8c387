"""Builds the model from an export's JSON documents, whatever the format: walks (nested)
indexes to manifests and configs, verifying each metadata blob (size, then digest) as it is
read, and collecting problems instead of stopping at the first one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import mediatypes as mt
from ..digest import Digest
from ..errors import BadManifest, InvalidDigest, Kind, OciError, Problem
from ..model import (
    Absent,
    Descriptor,
    ExportModel,
    Image,
    ImageConfig,
    IndexRef,
    Manifest,
    classify,
    load_json,
    parse_config,
    parse_index,
    parse_manifest,
)
from .base import Storage, read_small

MAX_DEPTH = 8  # nested indexes deeper than this are refused (a loop guard on top of `stack`)
REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"


class Loader:
    """Builds an ExportModel, collecting problems instead of stopping at the first one."""

    def __init__(self, storage: Storage, locate: Callable[[Digest], str]) -> None:
        self.storage, self.locate = storage, locate
        self.images: list[Image] = []
        self.indexes: list[IndexRef] = []
        self.absent: list[Absent] = []
        self.problems: list[Problem] = []
        self.locations: dict[Digest, str] = {}
        self.verified: set[Digest] = set()

    def model(self) -> ExportModel:
        return ExportModel(
            tuple(self.images), tuple(self.indexes), tuple(self.absent), tuple(self.problems)
        )

    def problem(self, kind: Kind, digest: Digest | None, where: str, message: str) -> None:
        self.problems.append(Problem(kind, str(digest) if digest else None, where, message))

    def blob_json(self, desc: Descriptor, where: str) -> Any | None:
        """Read, verify and parse a metadata blob; None when absent or unusable."""
        name = self.locate(desc.digest)
        self.locations[desc.digest] = name
        data = read_small(self.storage, name)
        if data is None:
            return None
        if self.verify_bytes(desc, data, where):
            self.verified.add(desc.digest)
        try:
            return load_json(data, f"{self.storage.where}: {name}")
        except BadManifest as exc:
            self.problem(Kind.BAD_METADATA, desc.digest, where, exc.problem)
            return False

    def verify_bytes(self, desc: Descriptor, data: bytes, where: str) -> bool:
        if len(data) != desc.size:
            self.problem(
                Kind.SIZE_MISMATCH,
                desc.digest,
                where,
                f"{desc.digest}: expected {desc.size} bytes, found {len(data)}",
            )
            return False
        actual = Digest.of(data, desc.digest.algorithm)
        if actual != desc.digest:
            self.problem(
                Kind.DIGEST_MISMATCH, desc.digest, where, f"expected {desc.digest}, got {actual}"
            )
            return False
        return True

    def walk(
        self,
        desc: Descriptor,
        refs: tuple[str, ...],
        parent: Digest | None,
        stack: tuple[Digest, ...] = (),
    ) -> None:
        where = refs[0] if refs else str(desc.digest)
        if desc.digest in stack or len(stack) > MAX_DEPTH:
            self.problem(
                Kind.BAD_METADATA, desc.digest, where, "index references itself or nests too deeply"
            )
            return
        value = self.blob_json(desc, where)
        if value is None:
            self.absent.append(Absent(refs, desc, parent))
            return
        if value is False:
            return
        try:
            self._dispatch(desc, value, refs, parent, (*stack, desc.digest))
        except OciError as exc:  # a malformed nested document spoils only its own subtree
            self.problem(Kind.BAD_METADATA, desc.digest, where, exc.problem)

    def _dispatch(
        self,
        desc: Descriptor,
        value: Any,
        refs: tuple[str, ...],
        parent: Digest | None,
        stack: tuple[Digest, ...],
    ) -> None:
        where = f"{self.storage.where}: {desc.digest}"
        media_type = desc.media_type
        if media_type not in mt.INDEX_TYPES | mt.MANIFEST_TYPES and isinstance(value, dict):
            media_type = mt.OCI_INDEX if "manifests" in value else mt.OCI_MANIFEST
            if "layers" not in value and "manifests" not in value:
                self.problem(
                    Kind.UNKNOWN_MEDIA_TYPE,
                    desc.digest,
                    refs[0] if refs else "",
                    f"not a manifest or index: {desc.media_type}",
                )
                return
        if media_type in mt.INDEX_TYPES:
            index = parse_index(value, where)
            self.indexes.append(IndexRef(refs, desc, index))
            for child in index.manifests:
                self.walk(child, refs, desc.digest, stack)
        else:
            self.image(desc, parse_manifest(value, where), refs, parent)

    def image(
        self, desc: Descriptor, manifest: Manifest, refs: tuple[str, ...], parent: Digest | None
    ) -> None:
        where = refs[0] if refs else str(desc.digest)
        kind = classify(desc, manifest, refs)
        config = self.config(manifest.config, where) if kind.value == "image" else None
        self.config_location(manifest.config)
        for layer in manifest.layers:
            self.locations[layer.digest] = self.locate(layer.digest)
        attests = desc.annotation("vnd.docker.reference.digest")
        self.images.append(
            Image(
                refs=refs,
                kind=kind,
                manifest_descriptor=desc,
                manifest=manifest,
                index_digest=parent,
                config_descriptor=manifest.config,
                config=config,
                layers=manifest.layers,
                platform=desc.platform or (config.platform if config else None),
                attests=_maybe_digest(attests),
            )
        )

    def config_location(self, desc: Descriptor) -> None:
        self.locations.setdefault(desc.digest, self.locate(desc.digest))

    def config(self, desc: Descriptor, where: str) -> ImageConfig | None:
        value = self.blob_json(desc, where)
        if value is None:
            self.problem(Kind.MISSING_BLOB, desc.digest, where, f"config {desc.digest} is absent")
            return None
        if value is False:
            return None
        return parse_config(value, f"{self.storage.where}: {desc.digest}")


def _maybe_digest(value: str | None) -> Digest | None:
    try:
        return Digest.parse(value) if value else None
    except InvalidDigest:
        return None
