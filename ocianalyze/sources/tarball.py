"""Tarball storage: a seekable tar file indexed once, or a one-pass stream scanned as it passes.

A seekable, uncompressed tar is indexed in one pass over its headers; each blob is then read in
place from its offset (several at once if asked). A stream (standard input, or a tarball
compressed as a whole) cannot be read twice, so every member is scanned by the walker while it
passes and only small JSON documents are kept: blobs may arrive before the manifests that name
them (skopeo and podman write index.json and manifest.json last), so results are matched to
descriptors after the stream ends.
"""

from __future__ import annotations

import dataclasses
import io
import posixpath
import tarfile
from collections.abc import Callable
from typing import BinaryIO

from ..compression import CorruptStream, Readable
from ..digest import Digest
from ..errors import BadManifest, NotAnExport, OciError, TruncatedInput
from ..mediatypes import Compression
from ..walker import BlobScan, ScanOptions, scan

KEEP_JSON = 4 << 20  # members up to this size that look like JSON are kept in memory
KEEP_TOTAL = 256 << 20  # and no more than this in all
MAX_LINKS = 16


def normalise(name: str) -> str | None:
    """A member name as a relative path inside the archive, or None if it would leave it."""
    name = posixpath.normpath(name.replace("\\", "/")).lstrip("/") if name else ""
    if name in ("", ".") or name == ".." or name.startswith("../"):
        return None
    return name


class _Members:
    """Name → member table shared by both storages; resolves symlinks and hardlinks in the tar."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.members: dict[str, tarfile.TarInfo] = {}

    def add(self, member: tarfile.TarInfo) -> str | None:
        name = normalise(member.name)
        if name is not None:
            self.members[name] = member  # a later duplicate wins, as on extraction
        return name

    def resolve(self, name: str) -> tuple[str, tarfile.TarInfo] | None:
        for _ in range(MAX_LINKS):
            member = self.members.get(name)
            if member is None:
                return None
            if member.issym():
                target = normalise(posixpath.join(posixpath.dirname(name), member.linkname))
            elif member.islnk():
                target = normalise(member.linkname)
            else:
                return (name, member) if member.isfile() else None
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


def _tar_errors(where: str) -> Callable[[Exception], OciError]:
    def convert(exc: Exception) -> OciError:
        if isinstance(exc, CorruptStream):
            if exc.kind == "truncated":
                return TruncatedInput(where, f"input ends early ({exc})")
            return BadManifest(where, str(exc))
        if isinstance(exc, EOFError) or "unexpected end" in str(exc):
            return TruncatedInput(where, "input ends early, inside the tar archive")
        return NotAnExport(where, f"not a valid tar archive ({exc})")

    return convert


class _TarBase:
    """What both tar storages answer from their member table."""

    def __init__(self, where: str) -> None:
        self.where = where
        self._index = _Members(where)

    @property
    def names(self) -> set[str]:
        return set(self._index.members)

    def size(self, name: str) -> int | None:
        found = self._index.resolve(name)
        return found[1].size if found else None


class TarStorage(_TarBase):
    """A seekable uncompressed tar file, indexed once."""

    def __init__(self, path: str, where: str) -> None:
        super().__init__(where)
        self._path = path
        try:
            with tarfile.open(path, "r:") as tf:
                for member in tf:
                    self._index.add(member)
        except (tarfile.TarError, EOFError) as exc:
            raise _tar_errors(where)(exc) from None

    def open(self, name: str) -> BinaryIO:
        found = self._index.resolve(name)
        if found is None:
            raise BadManifest(f"{self.where}: {name}", "not in the archive")
        return _Slice(self._path, found[1].offset_data, found[1].size)  # type: ignore[return-value]

    def prescanned(self, name: str) -> BlobScan | None:
        return None


def _json_like(content: bytes | None) -> bool:
    return bool(content) and content.lstrip()[:1] in (b"{", b"[")  # type: ignore[union-attr]


class StreamStorage(_TarBase):
    """A tar read once from a stream. With ``scan``, every member goes through the walker."""

    def __init__(
        self,
        stream: Readable,
        where: str,
        *,
        scan_blobs: bool,
        opts: ScanOptions = ScanOptions(),
        progress: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__(where)
        self._scans: dict[str, BlobScan] = {}
        self._kept = 0
        self._opts = dataclasses.replace(opts, keep=KEEP_JSON)
        try:
            # tarfile's stream mode only ever calls read().
            with tarfile.open(fileobj=stream, mode="r|", bufsize=1 << 20) as tf:  # type: ignore[call-overload]
                for member in tf:
                    self._take(tf, member, scan_blobs, progress)
        except (tarfile.TarError, EOFError, CorruptStream) as exc:
            raise _tar_errors(where)(exc) from None
        if not self._index.members:
            raise NotAnExport(where, "empty archive")

    def _take(
        self,
        tf: tarfile.TarFile,
        member: tarfile.TarInfo,
        scan_blobs: bool,
        progress: Callable[[int], None] | None,
    ) -> None:
        name = self._index.add(member)
        if name is None or not member.isfile():
            return
        f = tf.extractfile(member)
        assert f is not None
        if scan_blobs:
            algorithm = "sha512" if name.startswith("blobs/sha512/") else "sha256"
            layer = False if self._opts.hash_only else None  # None: sniff what the member is
            result = scan(f, algorithm, layer=layer, opts=self._opts)
        elif member.size <= KEEP_JSON:
            data = f.read()
            result = BlobScan(Digest.of(data), len(data), Compression.NONE, content=data)
        else:
            return  # tarfile skips the data of members we do not read
        if progress:
            progress(member.size)
        if result.content is not None and not _json_like(result.content):
            result = _without_content(result)
        self._kept += len(result.content or b"")
        if self._kept > KEEP_TOTAL:
            raise BadManifest(self.where, f"more than {KEEP_TOTAL} bytes of JSON documents")
        self._scans[name] = result

    def open(self, name: str) -> BinaryIO:
        raise BadManifest(f"{self.where}: {name}", "a stream cannot be read twice")

    def prescanned(self, name: str) -> BlobScan | None:
        found = self._index.resolve(name)
        return self._scans.get(found[0]) if found else None


def _without_content(result: BlobScan) -> BlobScan:
    return dataclasses.replace(result, content=None)
