"""The legacy `docker save` layout: manifest.json names each image's config and layer tars.
There is no manifest, so layer digests are the config's diff_ids (the tars are uncompressed)."""

from __future__ import annotations

import re
from typing import Any

from .. import mediatypes as mt
from ..digest import Digest
from ..errors import BadManifest
from ..model import (
    Descriptor,
    Image,
    classify,
    load_json,
    parse_config,
    parse_descriptor,
)
from .base import Storage, read_small
from .loader import Loader

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
    if loader.verify_bytes(desc, data, where):
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
