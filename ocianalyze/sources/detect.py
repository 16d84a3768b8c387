"""Open any export: detect its format from content (never from the file name) and load it."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Collection
from typing import TYPE_CHECKING, BinaryIO

from ..errors import Kind, NotAnExport, TruncatedInput, Unreadable
from ..mediatypes import Compression
from ..record import replace
from .base import Export, Storage
from .dirstorage import DirStorage
from .layouts import LAYOUTS
from .outer_tar import is_header
from .tarball import MemberSink, StreamStorage, TarStorage, keep_metadata

if TYPE_CHECKING:  # the codecs are imported only for a file or a stream (start-up time)
    from ..compression import Readable

HEAD = 1024
ROOT_NAMES = ("oci-layout", "index.json", "manifest.json", "version", "repositories")
_UNSUPPORTED = {b"\xfd7zXZ\x00": "xz", b"BZh": "bzip2", b"\x04\x22\x4d\x18": "lz4"}


class _Prefixed:
    """A stream whose first bytes were already read to sniff it."""

    def __init__(self, head: bytes, rest: Readable) -> None:
        self._head, self._rest = head, rest

    def read(self, n: int = -1) -> bytes:
        if self._head:
            if n < 0:
                out, self._head = self._head + self._rest.read(), b""
                return out
            out, self._head = self._head[:n], self._head[n:]
            return out
        return self._rest.read(n)


def _not_tar(where: str, head: bytes) -> NotAnExport:
    for magic, name in _UNSUPPORTED.items():
        if head.startswith(magic):
            return NotAnExport(
                where, f"compressed with {name}, which is not supported (gzip or zstd are)"
            )
    return NotAnExport(where, "empty file" if not head else "not a tar archive or image layout")


def open_export(
    path: str, *, sink: MemberSink | None = None, stdin: BinaryIO | None = None
) -> Export:
    """Open ``path``: a directory, a tar file (plain, or compressed as a whole with gzip or
    zstd), or "-" for standard input (``stdin`` overrides it, for tests).

    A one-pass input (standard input, a compressed tarball) hands every regular member to
    ``sink`` as it passes (default: keep small JSON documents only); what the sink returns is in
    ``Export.streamed``. Raises NotAnExport, TruncatedInput, BadManifest or Unreadable (the
    export as a whole cannot be read); problems with single blobs are in the model.
    """
    if not path.strip():
        raise NotAnExport(repr(path), "an empty path names no export")
    sink = sink or keep_metadata
    if path == "-":
        raw = stdin if stdin is not None else sys.stdin.buffer
        try:
            head = raw.read(HEAD)
        except (OSError, ValueError) as exc:  # stdin closed
            raise Unreadable("-", f"standard input cannot be read ({exc})") from None
        return _from_stream(_Prefixed(head, raw), head, "-", sink)
    try:
        # os, not pathlib: importing pathlib costs ~2 ms of every run's start-up
        mode = os.stat(path).st_mode  # noqa: PTH116
    except FileNotFoundError:
        raise NotAnExport(path, "no such file or directory") from None
    except OSError as exc:
        raise Unreadable(path, exc.strerror or str(exc), exc.errno) from None
    if stat.S_ISDIR(mode):
        return _from_dir(path, path)
    if not stat.S_ISREG(mode):
        raise NotAnExport(path, "not a regular file or directory")
    try:
        with open(path, "rb") as f:
            head = f.read(HEAD)
            from ..compression import sniff

            if sniff(head) is not Compression.NONE:
                f.seek(0)
                return _from_stream(f, head, path, sink)
        if not is_header(head):
            raise _not_tar(path, head)
        storage = TarStorage(path, path)
    except OSError as exc:
        raise Unreadable(path, exc.strerror or str(exc), exc.errno) from None
    return _load(storage, storage.names, path, archive=True)


def _from_stream(raw: Readable, head: bytes, where: str, sink: MemberSink) -> Export:
    from ..compression import CorruptStream, DecompressingReader, sniff

    if not head:
        raise NotAnExport(where, "empty input")
    compression = sniff(head)
    stream = raw if compression is Compression.NONE else DecompressingReader(raw, compression)
    if compression is Compression.NONE and not is_header(head):
        raise _not_tar(where, head)
    try:
        storage = StreamStorage(stream, where, sink)
    except CorruptStream as exc:
        if exc.kind is Kind.TRUNCATED:
            raise TruncatedInput(where, f"input ends early ({exc})") from None
        if exc.kind is Kind.LIMIT_EXCEEDED:
            raise NotAnExport(
                where, f"the {compression.value} stream cannot be read ({exc})"
            ) from None
        raise NotAnExport(where, f"the {compression.value} stream is damaged ({exc})") from None
    except OSError as exc:
        raise Unreadable(where, exc.strerror or str(exc), exc.errno) from None
    export = _load(storage, storage.names, where, archive=True)
    return replace(export, streamed=storage.results)


def _from_dir(p: str, where: str) -> Export:
    storage = DirStorage(p, where)  # its directory descriptor lives as long as the export
    try:
        names = {n for n in ROOT_NAMES if storage.size(n) is not None}
        return _load(storage, names, where, archive=False)
    except BaseException:
        storage.close()
        raise


def _load(storage: Storage, names: Collection[str], where: str, *, archive: bool) -> Export:
    """Load with the first layout of the registry that claims the export's root files."""
    present = frozenset(n for n in ROOT_NAMES if n in names)
    for layout in LAYOUTS:
        fmt = layout.claims(present, archive)
        if fmt is not None:
            loader = layout.load(storage)
            return Export(
                where,
                fmt,
                loader.model(),
                storage,
                loader.locations,
                loader.observed,
                metadata_names=present,
                duplicate_members=getattr(storage, "duplicates", ()),
            )
    raise NotAnExport(where, "no index.json, oci-layout or manifest.json: not an image export")
