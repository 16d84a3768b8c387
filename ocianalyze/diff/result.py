"""The result of comparing two exports: plain frozen data, no I/O (renderers read it)."""

from __future__ import annotations

import enum
from typing import NamedTuple

from ..record import record

SCHEMA_VERSION = 1


class BlobStatus(str, enum.Enum):
    """How a layer of the new image relates to the old image's layers: by digest (the stored
    bytes) first, then by diff_id (the uncompressed tar, as containerd names snapshots)."""

    shared = "shared"  # the same digest: the same bytes
    recompressed = "recompressed"  # the same diff_id under another digest
    added = "added"
    removed = "removed"


class Change(str, enum.Enum):
    """What happened to a path of the merged filesystem, or to an image of the export."""

    added = "added"
    removed = "removed"
    changed = "changed"


class Aspect(str, enum.Enum):
    """What changed in a path present in both merged filesystems (mtime is not compared:
    every rebuild changes it)."""

    type = "type"
    content = "content"  # the sha256 of a regular file's bytes (same size included)
    size = "size"
    mode = "mode"
    owner = "owner"  # uid or gid
    link = "link"  # a symlink's or hardlink's target


class FileState(NamedTuple):
    """One side of a path: type (entries.KINDS), size in bytes, mode bits, owner, link target,
    and the hex sha256 of a regular file's content (None when not hashed: sparse files)."""

    type: str
    size: int
    mode: int
    uid: int
    gid: int
    link: str
    sha256: str | None


class FileChange(NamedTuple):
    path: str
    change: Change
    what: tuple[Aspect, ...]  # for a change; () for added and removed
    old: FileState | None
    new: FileState | None

    @property
    def weight(self) -> int:
        """How large the change is, in bytes, to rank it (--top): the bytes that appear or
        go, or, for a changed file, the larger of its two sizes."""
        return max(self.old.size if self.old else 0, self.new.size if self.new else 0)


@record
class FileDiff:
    """Every path added, removed or changed, in path order (a directory before its subtree).
    ``unchanged``: paths present in both and equal."""

    changes: tuple[FileChange, ...]
    unchanged: int

    def count(self, change: Change) -> int:
        return sum(1 for c in self.changes if c.change is change)


@record
class LayerChange:
    status: BlobStatus
    old_digest: str | None
    new_digest: str | None
    diff_id: str | None
    old_size: int | None  # stored bytes
    new_size: int | None


@record
class ConfigChange:
    """One config field that differs: ``field`` is ``cmd``, ``entrypoint``, ``user``,
    ``workdir``, ``exposed_ports``, ``volumes``, ``history`` (the created_by lines), or
    ``env.NAME`` / ``label.NAME`` per variable; None on a side where it is not set."""

    field: str
    old: str | list[str] | None
    new: str | list[str] | None


@record
class SizeChange:
    """One measure of an image, in bytes: ``size`` (stored layers), ``uncompressed_size``,
    ``disk_bytes`` (see the README's Sizes). None where a layer could not be measured."""

    measure: str
    old: int | None
    new: int | None

    @property
    def delta(self) -> int | None:
        return None if self.old is None or self.new is None else self.new - self.old


@record
class ImageRef:
    """An image as the diff names it: its name (first ref, or digest), platform, manifest
    digest (the config digest for a legacy save), stored layer bytes and config digest."""

    name: str
    platform: str | None
    digest: str
    size: int
    config: str = ""  # equal to ``digest`` when the export has no manifest (legacy save)


@record
class ImageDiff:
    old: ImageRef
    new: ImageRef
    layers: tuple[LayerChange, ...]
    config: tuple[ConfigChange, ...]
    sizes: tuple[SizeChange, ...]
    files: FileDiff | None  # None: not compared (see files_note)
    # why not: a layer could not be read, or both have the same layers (the same files)
    files_note: str | None = None

    @property
    def same_image(self) -> bool:
        """The same manifest; when one side has none (a legacy save, which Docker wrote without
        one), the same config, as the image ID (docker images) compares them."""
        old, new = self.old, self.new
        if old.digest == old.config or new.digest == new.config:
            return old.config == new.config
        return old.digest == new.digest

    @property
    def differs(self) -> bool:
        return (
            not self.same_image
            or bool(self.config)
            or any(layer.status is not BlobStatus.shared for layer in self.layers)
            or bool(self.files and self.files.changes)
        )


@record
class MissingBlob:
    digest: str
    size: int
    media_type: str


@record
class Delta:
    """What must cross to a site holding ``held`` digests so it has every blob of NEW:
    the blobs of NEW it lacks, their bytes, and NEW's bytes in all (distinct blobs:
    indexes, manifests, configs and layers, as a registry stores them)."""

    held: int  # distinct digests held
    missing: tuple[MissingBlob, ...]  # largest first
    total_bytes: int
    total_blobs: int

    @property
    def missing_bytes(self) -> int:
        return sum(b.size for b in self.missing)

    @property
    def saved(self) -> float:
        """The fraction of NEW's bytes that need not cross (1.0 for an empty NEW)."""
        return 1.0 if not self.total_bytes else 1 - self.missing_bytes / self.total_bytes


@record
class ExportDiff:
    old_path: str
    new_path: str
    old_format: str
    new_format: str
    images: tuple[ImageDiff, ...]  # pairs, in the new export's order
    added: tuple[ImageRef, ...]  # images only NEW has
    removed: tuple[ImageRef, ...]  # images only OLD has
    delta: Delta
    top: int = 10

    @property
    def differs(self) -> bool:
        return bool(self.added or self.removed or any(i.differs for i in self.images))
