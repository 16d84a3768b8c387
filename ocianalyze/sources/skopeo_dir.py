"""skopeo's `dir:` layout: manifest.json is the manifest (or an index), blobs are named by
bare hex, and instance manifests of an index by <hex>.manifest.json."""

from __future__ import annotations

from .. import mediatypes as mt
from ..digest import Digest
from ..errors import BadManifest
from ..model import Descriptor, load_json
from .base import Storage, read_small
from .loader import Loader


def load_skopeo_dir(storage: Storage) -> Loader:
    """manifest.json is the manifest (or an index); blobs are named by bare hex.
    Raises BadManifest when manifest.json is absent or not JSON."""

    def locate(d: Digest) -> str:
        if loader.size(d.encoded) is None and loader.size(f"{d.encoded}.manifest.json"):
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
    # The top document is named by its own bytes: the loader reads it as the one root.
    loader.locate = lambda d: "manifest.json" if d == top.digest else locate(d)
    loader.walk_roots((top,))
    loader.locate = locate
    return loader
