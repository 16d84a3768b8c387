"""skopeo's `dir:` layout: manifest.json is the manifest (or an index), blobs are named by
bare hex, and instance manifests of an index by <hex>.manifest.json. Simple-signing signatures
sit beside them (signature-N, <hex>.signature-N): ``signature_names`` lists them, unread."""

from __future__ import annotations

from collections.abc import Iterable

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


MAX_SIGNATURES = 1024  # signature-N files looked for per manifest: far more than any image has


def signature_names(
    storage: Storage, instances: Iterable[Digest]
) -> list[tuple[str, Digest | None]]:
    """The simple-signing signature files of a ``dir:`` export, in order, each with the
    instance manifest it sits on (None: the top ``manifest.json``).

    containers/image's dir transport writes ``signature-1``, ``signature-2``, ... for the top
    manifest and ``<hex>.signature-N`` for an instance of an index (``signaturePath``), and
    reads them back until the first number that is absent: so does this. Reads nothing."""
    found: list[tuple[str, Digest | None]] = []
    for prefix, instance in (("", None), *((f"{d.encoded}.", d) for d in instances)):
        for n in range(1, MAX_SIGNATURES + 1):
            name = f"{prefix}signature-{n}"
            if storage.size(name) is None:
                break
            found.append((name, instance))
    return found
