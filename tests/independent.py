"""Expected values computed straight from the files with the standard library (and zstandard),
never with ocianalyze's code, so a reader bug cannot hide behind itself."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zstandard


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def blob(layout: Path, digest: str) -> bytes:
    algorithm, hexpart = digest.split(":")
    return (layout / "blobs" / algorithm / hexpart).read_bytes()


def blob_json(layout: Path, digest: str) -> Any:
    return json.loads(blob(layout, digest))


def decompress(data: bytes) -> bytes:
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    if data[:4] == b"\x28\xb5\x2f\xfd":
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return data


@dataclass
class LayerTruth:
    digest: str
    size: int
    diff_id: str
    uncompressed_size: int
    files: int
    file_bytes: int
    disk_bytes: int
    whiteouts: int
    entries: int = 0
    dirs: int = 0
    symlinks: int = 0
    hardlinks: int = 0
    newest_mtime: float | None = None


def layer_truth(data: bytes) -> LayerTruth:
    raw = decompress(data)
    files = file_bytes = disk = whiteouts = 0
    members = []
    with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
        for m in tf:
            members.append(m)
            base = m.name.rstrip("/").rsplit("/", 1)[-1]
            if base.startswith(".wh."):
                whiteouts += 1
            elif m.isreg():
                files += 1
                file_bytes += m.size
                disk += -(-m.size // 4096) * 4096
            elif m.isdir():
                disk += 4096
    return LayerTruth(
        sha256(data),
        len(data),
        sha256(raw),
        len(raw),
        files,
        file_bytes,
        disk,
        whiteouts,
        entries=len(members),
        dirs=sum(m.isdir() for m in members),
        symlinks=sum(m.issym() for m in members),
        hardlinks=sum(m.islnk() for m in members),
        newest_mtime=max((float(m.mtime) for m in members), default=None),
    )


def oci_manifests(layout: Path) -> list[tuple[str, dict[str, Any]]]:
    """Every image manifest reachable from index.json, following nested indexes."""
    out: list[tuple[str, dict[str, Any]]] = []
    todo = list(json.loads((layout / "index.json").read_text())["manifests"])
    while todo:
        desc = todo.pop(0)
        path = layout / "blobs" / desc["digest"].replace(":", "/")
        if not path.exists():
            continue
        doc = json.loads(path.read_bytes())
        if "manifests" in doc:
            todo.extend(doc["manifests"])
        else:
            out.append((desc["digest"], doc))
    return out
