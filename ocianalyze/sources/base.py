"""What every export format offers: named files (metadata and blobs) behind one protocol.

A *storage* knows how to read names from a directory, a tar file, or a one-pass stream; a
*layout* (OCI, docker save, skopeo dir) knows which names to read and builds the model.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

from ..digest import Digest
from ..errors import BadManifest, UnsafePath
from ..model import MAX_METADATA_BYTES, ExportModel
from ..walker import BlobScan


class ExportFormat(str, enum.Enum):
    OCI_LAYOUT = "oci-layout"
    OCI_ARCHIVE = "oci-archive"
    DOCKER_ARCHIVE = "docker-archive"
    DOCKER_DIR = "docker-dir"


class Storage(Protocol):
    where: str  # the path the user gave, for messages

    def size(self, name: str) -> int | None:
        """The size of ``name``, or None when the export does not hold it."""

    def open(self, name: str) -> BinaryIO:
        """A stream of ``name``'s bytes. Only for names whose ``size`` is not None."""

    def prescanned(self, name: str) -> BlobScan | None:
        """The scan of ``name`` made while a one-pass stream went by, if any."""


def read_small(storage: Storage, name: str, limit: int = MAX_METADATA_BYTES) -> bytes | None:
    """Read a metadata file whole; None when absent. Refuses files larger than ``limit``."""
    size = storage.size(name)
    if size is None:
        return None
    if size > limit:
        raise BadManifest(f"{storage.where}: {name}", f"too large for metadata ({size} bytes)")
    scanned = storage.prescanned(name)
    if scanned is not None:
        if scanned.content is None:
            raise BadManifest(f"{storage.where}: {name}", "metadata was not kept from the stream")
        return scanned.content
    with storage.open(name) as f:
        return f.read(limit + 1)


class DirStorage:
    """Files under a directory. Refuses any name that resolves (through symlinks) outside it."""

    def __init__(self, root: Path, where: str) -> None:
        self.root = root.resolve()
        self.where = where

    def _path(self, name: str) -> Path:
        path = (self.root / name).resolve()
        if path != self.root and self.root not in path.parents:
            raise UnsafePath(f"{self.where}: {name}", "resolves outside the export")
        return path

    def size(self, name: str) -> int | None:
        path = self._path(name)
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise BadManifest(f"{self.where}: {name}", exc.strerror or str(exc)) from None
        return st.st_size if path.is_file() else None

    def open(self, name: str) -> BinaryIO:
        # O_NOFOLLOW is not needed: _path resolved every link and checked the target.
        return open(self._path(name), "rb", buffering=0)

    def prescanned(self, name: str) -> BlobScan | None:
        return None


@dataclass(frozen=True)
class Export:
    """An opened export: its model, its storage, and where each referenced blob lives."""

    path: str
    format: ExportFormat
    model: ExportModel
    storage: Storage
    locations: dict[Digest, str] = field(default_factory=dict)
    # Metadata blobs (indexes, manifests, configs) verified while loading the model.
    verified_metadata: frozenset[Digest] = frozenset()
    # True when layer digests were taken from the config (legacy docker save holds no manifest).
    layer_digests_from_config: bool = False
