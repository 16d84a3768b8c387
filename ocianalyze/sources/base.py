"""What every export format offers: named files (metadata and blobs) behind one protocol.

A *storage* knows how to read names from a directory, a tar file, or a one-pass stream; a
*layout* (OCI, docker save, skopeo dir) knows which names to read and builds the model. Neither
decides what to check: they hand out bytes, and the verifier scans them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, BinaryIO, Protocol

from ..digest import Digest
from ..errors import BadManifest, Unreadable
from ..model import MAX_METADATA_BYTES, ExportModel
from ..record import field, record


class ExportFormat(str, enum.Enum):
    OCI_LAYOUT = "oci-layout"
    OCI_ARCHIVE = "oci-archive"
    DOCKER_ARCHIVE = "docker-archive"
    DOCKER_DIR = "docker-dir"


class Storage(Protocol):
    where: str  # the path the user gave, for messages

    def size(self, name: str) -> int | None:
        """The size of ``name`` in bytes, or None when the export does not hold it."""

    def open(self, name: str) -> BinaryIO:
        """A stream of ``name``'s bytes. Only for names whose ``size`` is not None."""

    def canonical(self, name: str) -> str | None:
        """The name ``name``'s data is stored under (links followed), None when absent."""

    def open_sized(self, name: str) -> tuple[BinaryIO, int] | None:
        """``name``'s bytes and its size in bytes from one open (what was checked is what is
        read), or None when the export does not hold it."""


def read_small(storage: Storage, name: str, limit: int = MAX_METADATA_BYTES) -> bytes | None:
    """Read a metadata file whole; None when absent.

    Raises BadManifest for files larger than ``limit`` bytes, Unreadable when the file system
    refuses the read, UnsafePath for a name that leads outside the export."""
    try:
        opened = storage.open_sized(name)
        if opened is None:
            return None
        f, size = opened
        with f:
            if size > limit:
                raise BadManifest(
                    f"{storage.where}: {name}", f"too large for metadata ({size} bytes)"
                )
            data = f.read(limit + 1)
    except OSError as exc:
        raise Unreadable(f"{storage.where}: {name}", exc.strerror or str(exc), exc.errno) from None
    if len(data) > limit:
        raise BadManifest(
            f"{storage.where}: {name}", f"too large for metadata (over {limit} bytes)"
        )
    return data


@record
class Observed:
    """What reading a metadata blob found: the digest of its bytes (by the algorithm of the
    descriptor that named it) and its length in bytes."""

    digest: Digest | None  # None: an algorithm we do not hash
    size: int


@record
class Export:
    """An opened export: its model, its storage, and where each referenced blob lives.

    ``locations``: the storage name of each blob the model references. ``observed``: the
    metadata blobs (indexes, manifests, configs) read while loading, by descriptor digest.
    ``streamed``: for a one-pass stream, what the caller's member sink returned for each
    member, by member name (this package never looks inside).
    """

    path: str
    format: ExportFormat
    model: ExportModel
    storage: Storage
    locations: dict[Digest, str] = field(default_factory=dict)
    observed: Mapping[Digest, Observed] = field(default_factory=dict)
    streamed: Mapping[str, Any] = field(default_factory=dict)
    metadata_names: frozenset[str] = frozenset()  # root files read: index.json, manifest.json…
    duplicate_members: tuple[str, ...] = ()  # names a tarball holds twice (the last is used)
