"""The OCI image layout: oci-layout, index.json, blobs/<alg>/<encoded> (image-spec
image-layout.md). Serves directories, oci-archive tarballs and Docker 25+ saves (which add
docker's manifest.json)."""

from __future__ import annotations

from typing import Any

from ..errors import BadManifest, Kind
from ..model import load_json, parse_index
from .base import Storage, read_small
from .docker_save import add_unlisted
from .loader import Loader


def load_oci(storage: Storage, docker_entries: list[dict[str, Any]] | None = None) -> Loader:
    """index.json → (nested) indexes → manifests → configs. ``docker_entries``: a Docker 25+
    save's manifest.json, whose images are matched to index.json's by config digest.
    Raises BadManifest when oci-layout or index.json cannot be used (the export is unreadable)."""
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
    loader.walk_roots(index.manifests)
    if docker_entries is not None:
        add_unlisted(loader, docker_entries)
    return loader
