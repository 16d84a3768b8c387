"""Layouts: which names to read in an export, and how they become the model.

Three layouts cover every format: the OCI image layout (directories, oci-archive tarballs and
Docker 25+ saves), the legacy ``docker save`` manifest.json, and skopeo's ``dir:``. Metadata
blobs are verified (size, then digest) as they are read, so no second pass is needed for them.
"""

from __future__ import annotations

import dataclasses
import re
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
    parse_descriptor,
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
        if self._verify(desc, data, where):
            self.verified.add(desc.digest)
        try:
            return load_json(data, f"{self.storage.where}: {name}")
        except BadManifest as exc:
            self.problem(Kind.BAD_METADATA, desc.digest, where, exc.problem)
            return False

    def _verify(self, desc: Descriptor, data: bytes, where: str) -> bool:
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


# --- OCI image layout -------------------------------------------------------------------------


def load_oci(storage: Storage, extra_refs: dict[Digest, tuple[str, ...]] | None = None) -> Loader:
    """index.json → (nested) indexes → manifests → configs. ``extra_refs``: names by config
    digest from a docker save's manifest.json."""
    loader = Loader(storage, lambda d: d.blob_path)
    layout = read_small(storage, "oci-layout", 1 << 16)
    if layout is None:
        loader.problem(
            Kind.BAD_METADATA, None, "oci-layout", "the required oci-layout file is absent"
        )
    else:
        version = load_json(layout, f"{storage.where}: oci-layout")
        if not isinstance(version, dict) or not isinstance(version.get("imageLayoutVersion"), str):
            raise BadManifest(f"{storage.where}: oci-layout", "imageLayoutVersion is missing")
    data = read_small(storage, "index.json")
    if data is None:
        raise BadManifest(storage.where, "index.json is absent")
    where = f"{storage.where}: index.json"
    index = parse_index(load_json(data, where), where)
    for desc in index.manifests:
        refs = tuple(r for r in (desc.annotation(CONTAINERD_NAME), desc.annotation(REF_NAME)) if r)
        loader.walk(desc, refs, None)
    loader.images = _merge_tags(loader.images)
    if extra_refs:
        loader.images = [_with_refs(img, extra_refs) for img in loader.images]
    return loader


def _merge_tags(images: list[Image]) -> list[Image]:
    """Several index.json names for one manifest are one image with several refs."""
    merged: dict[tuple[Digest | None, Digest | None], Image] = {}
    for img in images:
        key = (
            img.manifest_descriptor.digest if img.manifest_descriptor else None,
            img.index_digest,
        )
        first = merged.get(key)
        if first is None:
            merged[key] = img
        else:
            refs = first.refs + tuple(r for r in img.refs if r not in first.refs)
            merged[key] = dataclasses.replace(first, refs=refs)
    return list(merged.values())


def _with_refs(image: Image, extra: dict[Digest, tuple[str, ...]]) -> Image:
    more = tuple(r for r in extra.get(image.config_descriptor.digest, ()) if r not in image.refs)
    if not more:
        return image
    return dataclasses.replace(image, refs=image.refs + more)


# --- docker save (manifest.json) ----------------------------------------------------------------

_NAMED = re.compile(r"(?:blobs/sha256/)?([a-f0-9]{64})(?:\.json|\.tar)?")


def read_docker_manifest(storage: Storage) -> list[dict[str, Any]]:
    where = f"{storage.where}: manifest.json"
    data = read_small(storage, "manifest.json")
    if data is None:
        raise BadManifest(storage.where, "manifest.json is absent")
    entries = load_json(data, where)
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise BadManifest(where, "expected a JSON array of objects")
    for e in entries:
        if (
            not isinstance(e.get("Config"), str)
            or not isinstance(e.get("Layers"), list)
            or not all(isinstance(x, str) for x in e["Layers"])
        ):
            raise BadManifest(where, "an entry lacks a Config string or a Layers list")
        if not isinstance(e.get("RepoTags") or [], list):
            raise BadManifest(where, "RepoTags must be a list")
    return entries


def repo_tags(entries: list[dict[str, Any]]) -> dict[Digest, tuple[str, ...]]:
    out: dict[Digest, tuple[str, ...]] = {}
    for e in entries:
        m = _NAMED.fullmatch(e["Config"].removeprefix("./"))
        if m:
            out[Digest("sha256", m.group(1))] = tuple(str(t) for t in e.get("RepoTags") or [])
    return out


def load_docker(storage: Storage, entries: list[dict[str, Any]]) -> Loader:
    """A legacy docker save: no manifests, only configs and layer tars named by path."""
    loader = Loader(storage, lambda d: d.blob_path)
    for e in entries:
        _docker_image(loader, e)
    return loader


def _docker_image(loader: Loader, entry: dict[str, Any]) -> None:
    storage = loader.storage
    name = entry["Config"]
    data = read_small(storage, name)
    if data is None:
        raise BadManifest(f"{storage.where}: {name}", "config named by manifest.json is absent")
    m = _NAMED.fullmatch(name.removeprefix("./"))
    digest = Digest("sha256", m.group(1)) if m else Digest.of(data)
    desc = Descriptor(mt.DOCKER_CONFIG, digest, len(data))
    refs = tuple(str(t) for t in entry.get("RepoTags") or [])
    where = refs[0] if refs else str(digest)
    loader.locations[digest] = name
    if loader._verify(desc, data, where):
        loader.verified.add(digest)
    config = parse_config(load_json(data, f"{storage.where}: {name}"), f"{storage.where}: {name}")
    if len(config.diff_ids) != len(entry["Layers"]):
        raise BadManifest(
            f"{storage.where}: manifest.json",
            f"{len(entry['Layers'])} layers but {len(config.diff_ids)} diff_ids",
        )
    sources = entry.get("LayerSources") or {}
    layers = tuple(
        _docker_layer(loader, path, diff_id, sources)
        for path, diff_id in zip(entry["Layers"], config.diff_ids, strict=True)
    )
    loader.images.append(
        Image(
            refs,
            classify(None, None, refs),
            None,
            None,
            None,
            desc,
            config,
            layers,
            config.platform,
        )
    )


def _docker_layer(
    loader: Loader, path: str, diff_id: Digest, sources: dict[str, Any]
) -> Descriptor:
    if str(diff_id) in sources:  # a foreign layer: Docker keeps its distribution descriptor
        desc = parse_descriptor(sources[str(diff_id)], f"{loader.storage.where}: manifest.json")
    else:
        m = _NAMED.fullmatch(path.removeprefix("./"))
        digest = Digest("sha256", m.group(1)) if m and path.startswith("blobs/") else diff_id
        desc = Descriptor(mt.LEGACY_LAYER, digest, loader.storage.size(path) or 0)
    loader.locations[desc.digest] = path
    return desc


# --- skopeo dir: ----------------------------------------------------------------------------------


def load_skopeo_dir(storage: Storage) -> Loader:
    """manifest.json is the manifest (or an index); blobs are named by bare hex."""

    def locate(d: Digest) -> str:
        if storage.size(d.encoded) is None and storage.size(f"{d.encoded}.manifest.json"):
            return f"{d.encoded}.manifest.json"
        return d.encoded

    loader = Loader(storage, locate)
    data = read_small(storage, "manifest.json")
    if data is None:
        raise BadManifest(storage.where, "manifest.json is absent")
    value = load_json(data, f"{storage.where}: manifest.json")
    media_type = value.get("mediaType") if isinstance(value, dict) else None
    if not isinstance(media_type, str):
        media_type = (
            mt.OCI_INDEX if isinstance(value, dict) and "manifests" in value else mt.OCI_MANIFEST
        )
    top = Descriptor(media_type, Digest.of(data), len(data))
    loader.locations[top.digest] = "manifest.json"
    loader.verified.add(top.digest)
    loader._dispatch(top, value, (), None, (top.digest,))
    return loader
