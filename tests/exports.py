"""Write the same small image in every export format, with or without one damage.

Standard library only (and zstandard for whole-zstd files): nothing here comes from
ocianalyze, so the matrix tests compare its verdicts with facts computed independently.
Formats: an OCI layout (directory or tar), a Docker 25+ save (layout + manifest.json), a legacy
`docker save` (<id>/layer.tar, <id>.json), a skopeo `dir:` copy.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import lzma
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
REF = "org.opencontainers.image.ref.name"
MTIME = 1_700_000_000


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), MTIME, 0o644
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def cj(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


@dataclass
class Image:
    """One image: its uncompressed layer tars, and what the config claims about them."""

    tars: list[bytes]
    tag: str = "example/app:1.0"
    arch: str = "amd64"
    diff_ids: list[str] | None = None  # default: the true sha256 of each tar
    config_extra: dict[str, Any] | None = None  # fields added to (or replacing) the config's

    def config(self) -> bytes:
        diff_ids = self.diff_ids or [sha(t) for t in self.tars]
        return cj(
            {
                "architecture": self.arch,
                "os": "linux",
                "created": "2024-01-15T10:00:00Z",
                "rootfs": {"type": "layers", "diff_ids": diff_ids},
                "history": [{"created_by": f"layer {i}"} for i in range(len(diff_ids))],
            }
            | (self.config_extra or {})
        )


@dataclass
class Written:
    """Files of an export (name → bytes), before they go to a directory or a tar."""

    files: dict[str, bytes] = field(default_factory=dict)
    layer_names: list[str] = field(default_factory=list)  # the first image's layer files
    config_name: str = ""
    manifest_name: str = ""

    def put_blob(self, data: bytes) -> str:
        name = "blobs/sha256/" + hashlib.sha256(data).hexdigest()
        self.files[name] = data
        return name


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def oci(
    images: list[Image],
    *,
    docker25: bool = False,
    encode: Callable[[bytes], bytes] = gz,
    media: str = OCI_GZIP,
    sizes: Callable[[int, int], int] = lambda i, size: size,
) -> Written:
    """An OCI layout; with ``docker25``, plus the manifest.json that Docker 25+ writes.
    ``encode`` stores each layer tar; ``sizes(i, size)`` is what layer i's descriptor claims."""
    out = Written()
    entries, index = [], []
    for n, image in enumerate(images):
        blobs = [encode(t) for t in image.tars]
        layer_names = [out.put_blob(b) for b in blobs]
        config = image.config()
        config_name = out.put_blob(config)
        manifest = cj(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": sha(config), "size": len(config)},
                "layers": [
                    {"mediaType": media, "digest": sha(b), "size": sizes(i, len(b))}
                    for i, b in enumerate(blobs)
                ],
            }
        )
        manifest_name = out.put_blob(manifest)
        index.append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": sha(manifest),
                "size": len(manifest),
                "annotations": {REF: image.tag},
                "platform": {"os": "linux", "architecture": image.arch},
            }
        )
        entries.append({"Config": config_name, "RepoTags": [image.tag], "Layers": layer_names})
        if n == 0:
            out.layer_names, out.config_name, out.manifest_name = (
                layer_names,
                config_name,
                manifest_name,
            )
    out.files["oci-layout"] = cj({"imageLayoutVersion": "1.0.0"})
    out.files["index.json"] = cj({"schemaVersion": 2, "manifests": index})
    if docker25:
        out.files["manifest.json"] = cj(entries)
    return out


def legacy(images: list[Image], encode: Callable[[bytes], bytes] = lambda t: t) -> Written:
    """A Docker <= 24 save: <id>/layer.tar, <config hex>.json, manifest.json, repositories.
    ``encode``: how each layer file is stored (uncompressed, as Docker writes them)."""
    out = Written()
    entries = []
    for n, image in enumerate(images):
        names = []
        for i, t in enumerate(image.tars):
            layer_id = hashlib.sha256(f"{n}/{i}".encode()).hexdigest()
            name = f"{layer_id}/layer.tar"
            out.files[name] = encode(t)
            out.files[f"{layer_id}/VERSION"] = b"1.0"
            out.files[f"{layer_id}/json"] = cj({"id": layer_id})
            names.append(name)
        config = image.config()
        config_name = hashlib.sha256(config).hexdigest() + ".json"
        out.files[config_name] = config
        entries.append({"Config": config_name, "RepoTags": [image.tag], "Layers": names})
        if n == 0:
            out.layer_names, out.config_name = names, config_name
    out.files["manifest.json"] = cj(entries)
    out.files["repositories"] = cj({})
    return out


def skopeo_dir(image: Image, sizes: Callable[[int, int], int] = lambda i, size: size) -> Written:
    """skopeo's dir: manifest.json is the manifest; blobs are named by bare hex."""
    out = Written()
    blobs = [gz(t) for t in image.tars]
    for b in blobs:
        out.files[hashlib.sha256(b).hexdigest()] = b
    config = image.config()
    out.files[hashlib.sha256(config).hexdigest()] = config
    out.files["manifest.json"] = cj(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": sha(config), "size": len(config)},
            "layers": [
                {"mediaType": OCI_GZIP, "digest": sha(b), "size": sizes(i, len(b))}
                for i, b in enumerate(blobs)
            ],
        }
    )
    out.files["version"] = b"Directory Transport Version: 1.1\n"
    out.layer_names = [hashlib.sha256(b).hexdigest() for b in blobs]
    out.config_name = hashlib.sha256(config).hexdigest()
    out.manifest_name = "manifest.json"
    return out


# --- where the files go --------------------------------------------------------------------


def to_dir(written: Written, root: Path) -> Path:
    for name, data in written.files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def to_tar(written: Written) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data in sorted(written.files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), MTIME
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def zstd(data: bytes) -> bytes:
    import zstandard

    return zstandard.ZstdCompressor().compress(data)


# --- damages: each returns the files changed in place ------------------------------------------

Damage = Callable[[Written], None]


def flip(data: bytes, at: int | None = None) -> bytes:
    at = len(data) // 2 if at is None else at
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def xz_bytes(data: bytes) -> bytes:
    return lzma.compress(data, format=lzma.FORMAT_XZ)
