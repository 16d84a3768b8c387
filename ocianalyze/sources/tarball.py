"""Tarball storage: a seekable tar file indexed once, or a one-pass stream handed out as it passes.

A seekable, uncompressed tar is indexed in one pass over its headers; each member is then read
in place from its offset (several at once if asked). A stream (standard input, or a tarball
compressed as a whole) cannot be read twice: every regular member is handed, as it passes, to a
``MemberSink`` the caller chose (the verifier scans it there); small JSON documents are kept so
that the model can be built when the stream ends (blobs may arrive before the manifests that
name them: skopeo and podman write index.json and manifest.json last). This module reads no
blob content itself beyond those documents.
"""

from __future__ import annotations

import io
import posixpath
from collections.abc import Callable, KeysView
from typing import Any, BinaryIO, Protocol

from ..errors import BadManifest, NotAnExport, OciError, TruncatedInput
from ..model import MAX_METADATA_BYTES
from .outer_tar import Member, OuterTarError, OuterTarReader, normalise

# Members up to the metadata limit that look like JSON are kept in memory (a 5 MB index.json
# reads from a stream as from a directory), and no more than KEEP_TOTAL bytes in all: a
# stream's metadata is held until the stream ends.
KEEP_JSON = MAX_METADATA_BYTES
KEEP_TOTAL = 48 << 20
MAX_LINKS = 16
# Members of one archive, and bytes of their names: every member is indexed (about 300
# bytes each), so these bound memory. A real export holds a few files per blob.
MAX_MEMBERS = 200_000
MAX_NAME_BYTES = 32 << 20


class MemberReader(Protocol):
    """The data of one stream member: ``read(n)`` returns at most ``n`` bytes, b"" at its end."""

    def read(self, n: int = -1, /) -> bytes: ...


# Called once per regular member of a stream: (name, size in bytes, its data). Returns the
# bytes to keep for the model (the whole member, when it is a small JSON document) or None,
# and a result that the storage keeps by member name for the caller (``StreamStorage.results``).
MemberSink = Callable[[str, int, MemberReader], "tuple[bytes | None, Any]"]


def json_like(content: bytes | None) -> bool:
    """True for bytes that start like a JSON object or array (after white space)."""
    return bool(content) and content.lstrip()[:1] in (b"{", b"[")  # type: ignore[union-attr]


def keep_metadata(name: str, size: int, data: MemberReader) -> tuple[bytes | None, Any]:
    """The default sink: keep small JSON documents, skip everything else unread."""
    if size > KEEP_JSON:
        return None, None
    head = data.read(1)
    if head.isspace() or head in (b"{", b"["):
        content = head + _read_all(data, size - len(head))
        return (content if json_like(content) else None), None
    return None, None


def _read_all(data: MemberReader, size: int) -> bytes:
    parts = []
    while size > 0:
        piece = data.read(min(size, 1 << 20))
        if not piece:
            break
        parts.append(piece)
        size -= len(piece)
    return b"".join(parts)


class _MemberData:
    """The current member's data as a readable stream (at most its size, then b"")."""

    def __init__(self, reader: OuterTarReader) -> None:
        self._reader = reader

    def read(self, n: int = -1, /) -> bytes:
        return self._reader.read_data(n if n >= 0 else 1 << 20)


class _Members:
    """Name → member table; resolves symlinks and hardlinks inside the archive."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.members: dict[str, Member] = {}
        self.duplicates: list[str] = []  # regular files the archive holds more than once
        self._name_bytes = 0

    def add(self, member: Member) -> str | None:
        """Index ``member``; its normalised name, or None when it is not indexed. A hardlink
        takes its target's content as it is at this point of the archive, as extraction
        does (a link to a member that comes later, or to none, is absent); a later duplicate
        replaces an earlier one, as extraction does, and is noted."""
        name = normalise(member.name)
        if name is None:
            return None
        if member.is_hardlink:
            target = normalise(member.link)
            found = self.resolve(target) if target is not None else None
            if found is None:
                self.members.pop(name, None)
                return None
            member = found[1]
        if name not in self.members:
            self._name_bytes += len(name)
            if len(self.members) >= MAX_MEMBERS or self._name_bytes > MAX_NAME_BYTES:
                raise NotAnExport(
                    self.where,
                    f"more than {MAX_MEMBERS} members or {MAX_NAME_BYTES >> 20} MiB of member "
                    "names: not an image export this tool reads",
                )
        if member.is_file and name in self.members and self.members[name].is_file:
            self.duplicates.append(name)
        self.members[name] = member
        return name

    def resolve(self, name: str) -> tuple[str, Member] | None:
        for _ in range(MAX_LINKS):
            member = self.members.get(name)
            if member is None:
                return None
            if member.is_symlink:
                target = normalise(posixpath.join(posixpath.dirname(name), member.link))
            elif member.is_hardlink:
                target = normalise(member.link)
            else:
                return (name, member) if member.is_file else None
            if target is None:
                return None
            name = target
        return None


class _Slice(io.RawIOBase):
    """``size`` bytes of a file from ``offset``, on a handle of its own (thread-safe)."""

    def __init__(self, path: str, offset: int, size: int) -> None:
        self._f = open(path, "rb", buffering=0)  # noqa: SIM115
        self._f.seek(offset)
        self._left = size

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = self._left if n < 0 else min(n, self._left)
        data = self._f.read(n) if n else b""
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._f.close()
        super().close()


def _tar_error(where: str, exc: OuterTarError) -> OciError:
    if exc.truncated:
        return TruncatedInput(where, f"input ends early ({exc})")
    return NotAnExport(where, f"not a valid tar archive ({exc})")


class _TarBase:
    """What both tar storages answer from their member table."""

    def __init__(self, where: str) -> None:
        self.where = where
        self._index = _Members(where)

    @property
    def names(self) -> KeysView[str]:
        """The member names (a view: a million members are not copied into a set)."""
        return self._index.members.keys()

    @property
    def duplicates(self) -> tuple[str, ...]:
        """Regular files the archive holds more than once (the last copy is used)."""
        return tuple(self._index.duplicates)

    def size(self, name: str) -> int | None:
        found = self._index.resolve(name)
        return found[1].size if found else None

    def canonical(self, name: str) -> str | None:
        """The member whose data ``name`` names, after following links; None when absent."""
        found = self._index.resolve(name)
        return found[0] if found else None

    def open(self, name: str) -> BinaryIO:  # each storage reads its own way
        raise NotImplementedError

    def open_sized(self, name: str) -> tuple[BinaryIO, int] | None:
        """A member's data and size; a tar in hand cannot change between the two."""
        size = self.size(name)
        return None if size is None else (self.open(name), size)


class TarStorage(_TarBase):
    """A seekable uncompressed tar file, indexed once."""

    def __init__(self, path: str, where: str) -> None:
        super().__init__(where)
        self._path = path
        with open(path, "rb") as f:
            try:
                for member in OuterTarReader(f).members():
                    self._index.add(member)
            except OuterTarError as exc:
                raise _tar_error(where, exc) from None
            end = f.seek(0, io.SEEK_END)
        for member in self._index.members.values():
            if member.is_file and member.offset + member.size > end:
                raise TruncatedInput(where, "input ends early, inside the tar archive")

    @property
    def path(self) -> str:
        """The tar file, as it was opened."""
        return self._path

    def span(self, name: str) -> tuple[str, int, int] | None:
        """Where ``name``'s data lies in the tar file: (the member it resolves to through links,
        offset in bytes, size in bytes); None when no regular member holds it."""
        found = self._index.resolve(name)
        return None if found is None else (found[0], found[1].offset, found[1].size)

    def open(self, name: str) -> BinaryIO:
        found = self._index.resolve(name)
        if found is None:
            raise BadManifest(f"{self.where}: {name}", "not in the archive")
        return _Slice(self._path, found[1].offset, found[1].size)  # type: ignore[return-value]


class StreamStorage(_TarBase):
    """A tar read once from a stream; every regular member goes through ``sink`` as it passes.

    ``results`` maps each regular member's name to what the sink returned for it. ``open``
    serves only the kept JSON documents. Raises NotAnExport, TruncatedInput or BadManifest.
    """

    def __init__(self, stream: Any, where: str, sink: MemberSink = keep_metadata) -> None:
        super().__init__(where)
        self.results: dict[str, Any] = {}
        self._kept: dict[str, bytes] = {}
        kept_bytes = 0
        reader = OuterTarReader(stream)
        data = _MemberData(reader)  # one for all members: it reads whichever is current
        try:
            for member in reader.members():
                target = self._link_target(member)
                name = self._index.add(member)
                if name is None:
                    continue
                if member.is_hardlink:  # the target's content, as it is now
                    self._alias(name, target)
                    continue
                if not member.is_file:
                    continue
                content, result = sink(name, member.size, data)
                self.results[name] = result
                if content is not None:
                    kept_bytes += len(content)
                    if kept_bytes > KEEP_TOTAL:
                        raise BadManifest(where, f"more than {KEEP_TOTAL} bytes of JSON documents")
                    self._kept[name] = content
                else:
                    self._kept.pop(name, None)
        except OuterTarError as exc:
            raise _tar_error(where, exc) from None
        if not self._index.members:
            raise NotAnExport(where, "empty archive")

    def _link_target(self, member: Member) -> str | None:
        """For a hardlink, the member name its target resolves to before it is indexed."""
        if not member.is_hardlink:
            return None
        target = normalise(member.link)
        found = self._index.resolve(target) if target is not None else None
        return found[0] if found else None

    def _alias(self, name: str, target: str | None) -> None:
        """``name`` is a hardlink: give it what its target gave, as it stands now (a later
        member under the target's name does not change it, as on extraction)."""
        if target is None or target not in self.results:
            return
        self.results[name] = self.results[target]
        if target in self._kept:
            self._kept[name] = self._kept[target]
        else:
            self._kept.pop(name, None)

    def open(self, name: str) -> BinaryIO:
        found = self._index.resolve(name)
        content = self._kept.get(found[0]) if found else None
        if content is None:
            raise BadManifest(f"{self.where}: {name}", "a stream cannot be read twice")
        return io.BytesIO(content)
