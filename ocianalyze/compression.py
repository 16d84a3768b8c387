"""The one place where bytes are decompressed.

Compression is sniffed from magic bytes, never taken from a media type or a file name. Decoders
are incremental and bounded: each call yields at most ``OUT_CAP`` bytes, so a decompression bomb
costs time, not memory. Both gzip and zstd accept several members/frames back to back, as Go's
readers (and so Docker and containerd) do; anything else after the last one is trailing data.
"""

from __future__ import annotations

import sys
import types
import zlib
from collections.abc import Iterator
from typing import Any, Protocol

from .mediatypes import Compression

_gzip_impl: types.ModuleType
try:  # zlib-compatible, about twice as fast as zlib at inflating
    from isal import isal_zlib as _gzip_impl
except ImportError:  # pragma: no cover - wheel missing on this platform
    _gzip_impl = zlib

if sys.version_info >= (3, 14):
    from compression import zstd as _zstd
else:
    from backports import zstd as _zstd


class Readable(Protocol):
    """Anything with ``read(n)``: files, pipes, tar members, our own readers."""

    def read(self, n: int = -1, /) -> bytes: ...


GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
OUT_CAP = 1 << 20  # bytes of output per decoder call
DECODE_ERRORS: tuple[type[Exception], ...] = (
    zlib.error,
    _zstd.ZstdError,
    EOFError,
    _gzip_impl.error,
)


def _is_zstd_frame(head: bytes) -> bool:
    # A zstd frame or a skippable frame (magic 0x184D2A5?, little-endian).
    return head[:4] == ZSTD_MAGIC or (
        len(head) >= 4 and head[1:4] == b"\x2a\x4d\x18" and head[0] & 0xF0 == 0x50
    )


def sniff(head: bytes) -> Compression:
    if head[:2] == GZIP_MAGIC:
        return Compression.GZIP
    if _is_zstd_frame(head):
        return Compression.ZSTD
    return Compression.NONE


class CorruptStream(Exception):
    """The compressed bytes are invalid, truncated, or followed by garbage."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # "corrupt", "truncated" or "trailing"


class Decoder:
    """Incremental gzip or zstd decoder over any number of members/frames."""

    def __init__(self, compression: Compression) -> None:
        if compression is Compression.NONE:
            raise ValueError("no decoder for uncompressed data")
        self.compression = compression
        self._obj: Any = self._new()
        self._between = b""  # bytes seen after a member ended, before we know what follows
        self._in_member = True

    def _new(self) -> Any:
        if self.compression is Compression.GZIP:
            return _gzip_impl.decompressobj(wbits=31)
        return _zstd.ZstdDecompressor()

    def _starts_member(self, head: bytes) -> bool:
        if self.compression is Compression.GZIP:
            return head[:2] == GZIP_MAGIC
        return _is_zstd_frame(head)

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Yield the decompressed output of ``data`` in pieces of at most OUT_CAP bytes."""
        try:
            while data:
                if not self._in_member:
                    data = self._between + data
                    self._between = b""
                    if len(data) < 4:
                        self._between = data
                        return
                    if not self._starts_member(data):
                        raise CorruptStream(
                            "trailing", "data after the end of the compressed stream"
                        )
                    self._obj, self._in_member = self._new(), True
                yield from self._drain(data)
                data = self._leftover()
        except DECODE_ERRORS as exc:
            raise CorruptStream(
                "corrupt", f"invalid {self.compression.value} data: {exc}"
            ) from None

    def _drain(self, data: bytes) -> Iterator[bytes]:
        obj = self._obj
        while True:
            out = obj.decompress(data, OUT_CAP)
            if out:
                yield out
            data = getattr(obj, "unconsumed_tail", b"")
            if obj.eof or (not data and len(out) < OUT_CAP and self._needs_input()):
                return

    def _needs_input(self) -> bool:
        return bool(getattr(self._obj, "needs_input", True))

    def _leftover(self) -> bytes:
        if not self._obj.eof:
            return b""
        self._in_member = False
        return bytes(self._obj.unused_data)

    def finish(self) -> None:
        """Raise CorruptStream unless the input ended exactly after a complete member."""
        if self._in_member and not self._obj.eof:
            raise CorruptStream("truncated", f"{self.compression.value} stream ends early")
        if self._between:
            raise CorruptStream("trailing", "data after the end of the compressed stream")


class DecompressingReader:
    """A read-only file object over a compressed stream (for archives compressed as a whole)."""

    def __init__(self, raw: Readable, compression: Compression, chunk: int = 1 << 16) -> None:
        self._raw, self._chunk = raw, chunk
        self._decoder = Decoder(compression)
        self._pieces: Iterator[bytes] = iter(())
        self._buf = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        out = []
        want = n if n >= 0 else 1 << 62
        while want > 0:
            if not self._buf and not self._refill():
                break
            piece, self._buf = self._buf[:want], self._buf[want:]
            out.append(piece)
            want -= len(piece)
        return b"".join(out)

    def _refill(self) -> bool:
        while not self._done:
            piece = next(self._pieces, None)
            if piece is not None:
                self._buf = piece
                return True
            data = self._raw.read(self._chunk)
            if not data:
                self._done = True
                self._decoder.finish()
                return False
            self._pieces = self._decoder.feed(data)
        return False
