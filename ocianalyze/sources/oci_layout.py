"""The OCI image layout: oci-layout, index.json, blobs/<alg>/<hex>. Serves directories,
oci-archive tarballs and Docker 25+ saves (which add docker's manifest.json for RepoTags)."""

from __future__ import annotations

import dataclasses

from ..digest import Digest
from ..errors import BadManifest, Kind
from ..model import (
    Image,
    load_json,
    parse_index,
)
from .base import Storage, read_small
from .loader import CONTAINERD_NAME, REF_NAME, Loader


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
