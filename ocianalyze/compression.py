"""The one place where bytes are decompressed.

Compression is sniffed from magic bytes, never taken from a media type or a file name. Decoders
are incremental and bounded: each call yields at most ``OUT_CAP`` bytes, so a decompression bomb
costs time, not memory. Both gzip and zstd accept several members/frames back to back, as Go's
readers (and so Docker and containerd) do; anything else after the last one is trailing data.
"""

from __future__ import annotations

import enum
import functools
import sys
import threading
import types
import zlib
from collections.abc import Iterator
from typing import Any, Protocol

from .errors import Kind
from .mediatypes import Compression


@functools.cache
def _gzip() -> types.ModuleType:
    """The gzip inflater, imported when the first gzip bytes are met, not at start-up: isal's
    zlib-compatible one, about twice as fast as zlib, else zlib."""
    gzip_impl: types.ModuleType
    try:
        from isal import isal_zlib as gzip_impl
    except ImportError:  # pragma: no cover - wheel missing on this platform
        gzip_impl = zlib
    return gzip_impl


@functools.cache
def _zstd() -> types.ModuleType:
    """zstd, imported when the first zstd bytes are met (a gzip layer never needs it)."""
    if sys.version_info >= (3, 14):
        from compression import zstd
    else:
        from backports import zstd
    return zstd


@functools.cache
def pulling_zstd() -> types.ModuleType | None:
    """zstandard, whose stream reader decodes straight into a caller's buffer (``readinto``),
    or None where it is not installed. Imported with the first zstd layer read so."""
    try:
        import zstandard
    except ImportError:  # pragma: no cover - a dependency; the pushing decoder then serves
        return None
    return zstandard


def _decode_errors(compression: Compression) -> tuple[type[Exception], ...]:
    """What the decoder of ``compression`` raises on bad input."""
    if compression is Compression.GZIP:
        return (zlib.error, EOFError, _gzip().error)
    return (_zstd().ZstdError, EOFError)


class Budget(Protocol):
    """A shared cap on bytes alive at once: ``take(n)`` may block until others ``give``."""

    def take(self, n: int, /) -> None: ...

    def give(self, n: int, /) -> None: ...


class ByteBudget:
    """A cap on bytes alive at once (decoder output, hand-offs between threads), shared by the
    scans running in a process: a scan takes a ``share()`` and closes it when done.

    No take passes the cap while anything is held, and a share that holds bytes may not hold
    more than its fair part (cap / open shares): each thread's allocator arena then peaks near
    its fair part, not near the cap. A take into an empty budget always succeeds, so one piece
    larger than the cap still moves. Whoever holds bytes gives them back without waiting on
    the budget (consumers never take), so a waiting taker always wakes: no deadlock."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.used = 0
        self.members = 0
        self.changed = threading.Condition(threading.Lock())

    def share(self) -> Share:
        with self.changed:
            self.members += 1
        return Share(self)


class Share:
    """One scan's part of a ByteBudget: a Budget for its decoder and its sink."""

    def __init__(self, pool: ByteBudget) -> None:
        self._pool = pool
        self.held = 0
        self._open = True

    def take(self, n: int, /) -> None:
        pool = self._pool
        with pool.changed:
            while self._must_wait(n):
                pool.changed.wait()
            pool.used += n
            self.held += n

    def try_take(self, n: int, /) -> bool:
        """``take`` without waiting: False, taking nothing, where take would wait."""
        pool = self._pool
        with pool.changed:
            if self._must_wait(n):
                return False
            pool.used += n
            self.held += n
            return True

    def _must_wait(self, n: int) -> bool:
        pool = self._pool
        over_cap = pool.used > 0 and pool.used + n > pool.cap
        over_share = self.held > 0 and self.held + n > pool.cap // pool.members
        return over_cap or over_share

    def give(self, n: int, /) -> None:
        pool = self._pool
        with pool.changed:
            pool.used -= n
            self.held -= n
            pool.changed.notify_all()

    def close(self) -> None:
        """Leave the pool, giving back whatever is still held: once a scan ends nothing of it
        is in flight, and bytes lost on a failure path must not starve later scans."""
        pool = self._pool
        with pool.changed:
            if self._open:
                self._open = False
                pool.members -= 1
                pool.used -= self.held
                self.held = 0
                pool.changed.notify_all()


class _Unbounded:
    """The budget of a decoder nobody shares memory with (an archive compressed as a whole)."""

    def take(self, n: int, /) -> None:
        pass

    def give(self, n: int, /) -> None:
        pass


class Readable(Protocol):
    """Anything with ``read(n)``: files, pipes, tar members, our own readers."""

    def read(self, n: int = -1, /) -> bytes: ...


GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
OUT_CAP = 1 << 20  # bytes of output per decoder call
# containerd's default (and libzstd's): frames may ask for windows up to 2^27 bytes (128 MiB,
# `zstd --long=27`); a larger one would make the decoder allocate it, so it is refused.
ZSTD_WINDOW_LOG_MAX = 27
ZSTD_WINDOW_MAX = 1 << ZSTD_WINDOW_LOG_MAX
# Bytes to hold after a member before deciding what follows: a zstd frame's magic, its header
# descriptor and window descriptor (no valid gzip member or zstd frame is shorter).
_MEMBER_HEAD = 6


def _is_zstd_frame(head: bytes) -> bool:
    # A zstd frame or a skippable frame (magic 0x184D2A5?, little-endian).
    return head[:4] == ZSTD_MAGIC or (
        len(head) >= 4 and head[1:4] == b"\x2a\x4d\x18" and head[0] & 0xF0 == 0x50
    )


def sniff(head: bytes) -> Compression:
    """The compression of a blob from its first bytes: gzip (RFC 1952 magic), zstd (RFC 8878
    frame or skippable frame magic), else none. Formats we cannot read: ``sniff_unsupported``."""
    if head[:2] == GZIP_MAGIC:
        return Compression.GZIP
    if _is_zstd_frame(head):
        return Compression.ZSTD
    return Compression.NONE


class UnsupportedCompression(str, enum.Enum):
    """Compressions a layer may be in that ocianalyze recognises but does not read. Legacy
    `docker load` inflates xz and bzip2 layers (moby's archive.DecompressStream); the OCI
    image spec names only gzip and zstd, and containerd reads only those."""

    XZ = "xz"
    BZIP2 = "bzip2"


_UNSUPPORTED_MAGIC = (
    (b"\xfd7zXZ\x00", UnsupportedCompression.XZ),  # xz file format, section 2.1.1.1
    (b"BZh", UnsupportedCompression.BZIP2),  # then the block size, '1'..'9'
)


def sniff_unsupported(head: bytes) -> UnsupportedCompression | None:
    """The compression ``head`` starts with, if it is one we recognise and do not read.

    A caller first rules out a tar: a tar whose first name starts "BZh" is a tar."""
    for magic, name in _UNSUPPORTED_MAGIC:
        if head.startswith(magic):
            return name
    return None


def zstd_window(head: bytes) -> int | None:
    """The window size in bytes a zstd frame starting at ``head`` declares (RFC 8878, 3.1.1.1:
    the Window_Descriptor, or the content size for a single-segment frame), None when the
    header is not whole in ``head`` or not a zstd data frame."""
    if len(head) < 6 or head[:4] != ZSTD_MAGIC:
        return None
    if head[4] & 0x20:  # Single_Segment_flag: the window is the whole content
        zstd = _zstd()
        try:
            return zstd.get_frame_info(head).decompressed_size  # type: ignore[no-any-return]
        except zstd.ZstdError:
            return None
    exponent, mantissa = head[5] >> 3, head[5] & 7
    base = 1 << (10 + exponent)
    return base + (base >> 3) * mantissa


_SKIPPABLE_MASK, _SKIPPABLE = 0xFFFFFFF0, 0x184D2A50
_FRAME_MAGIC = 0xFD2FB528
# Headers the follower parses for free, and then one per this many bytes fed or decoded
# (``paid``). Real encoders write blocks of up to 128 KiB of content; a stream of tiny blocks
# or frames (3-byte empty blocks: no content) costs the follower about 0.6 us of Python per
# header, 40 times what libzstd spends on it, so such a stream is called ``bad`` (left to the
# pushing Decoder, which reads it in C).
_FREE_HEADERS, _BYTES_PER_HEADER = 1 << 12, 1 << 9


class ZstdFrames:
    """Follows the frame and block headers of a zstd stream without decoding it (RFC 8878,
    3.1.1 frames: header descriptor, window, dictionary ID and content size fields; 3.1.1.2
    block headers: last-block bit, type, size; 3.1.2 skippable frames), to tell whether the
    bytes fed end exactly after a whole frame: a decoder that pulls its input (zstandard's
    stream reader) ends a truncated stream silently, and reads trailing bytes as a frame it
    cannot parse. ``complete()`` is True only where the pushing Decoder's ``finish`` would
    pass; anything else (``bad`` structures, a stream ending inside a frame) is left to it."""

    def __init__(self) -> None:
        self.bad = False  # a reserved bit or block type, or a magic that starts no frame
        self._want = 4  # header bytes the next step reads
        self._step = self._magic
        self._held = b""
        self._skip = 0  # bytes passed over: block contents, skippable frames, checksums
        self._between = True  # at a frame boundary, once _skip is passed
        self._checksum = False
        self._headers = 0  # header fields parsed so far
        self._fed = 0  # bytes fed so far
        # decoded bytes paid so far: apart from _fed, as the two may come from two threads
        self._paid = 0

    def feed(self, data: bytes | memoryview) -> None:
        """Follow ``data``, the next bytes of the stream; sets ``bad`` on a structure the
        follower refuses."""
        pos, end = 0, len(data)
        self._fed += end
        while pos < end and not self.bad:
            if self._skip:
                step = min(self._skip, end - pos)
                self._skip -= step
                pos += step
                continue
            take = min(self._want - len(self._held), end - pos)
            self._held += data[pos : pos + take]
            pos += take
            if len(self._held) == self._want:
                held, self._held = self._held, b""
                self._step(held)
                self._headers += 1

    def paid(self, decoded: int) -> None:
        """Count ``decoded`` bytes of content towards the header budget (see feed)."""
        self._paid += decoded

    def gave_up(self) -> bool:
        """True once the stream is ``bad``, or its headers passed _FREE_HEADERS and one per
        _BYTES_PER_HEADER bytes fed or ``paid`` (the stream is then ``bad`` from here on)."""
        if self._headers > _FREE_HEADERS + (self._fed + self._paid) // _BYTES_PER_HEADER:
            self.bad = True
        return self.bad

    def complete(self) -> bool:
        return not self.bad and self._between and not self._skip and not self._held

    def _next(self, want: int, step: Any) -> None:
        self._want, self._step = want, step

    def _magic(self, head: bytes) -> None:
        magic = int.from_bytes(head, "little")
        self._between = False
        if magic & _SKIPPABLE_MASK == _SKIPPABLE:
            self._next(4, self._skippable)
        elif magic == _FRAME_MAGIC:
            self._next(1, self._descriptor)
        else:
            self.bad = True

    def _skippable(self, size: bytes) -> None:
        self._skip = int.from_bytes(size, "little")
        self._between = True
        self._next(4, self._magic)

    def _descriptor(self, fhd: bytes) -> None:
        flags = fhd[0]
        if flags & 0x08:  # Reserved_bit
            self.bad = True
            return
        single = bool(flags & 0x20)
        self._checksum = bool(flags & 0x04)
        dictionary = (0, 1, 2, 4)[flags & 3]
        content = (1 if single else 0, 2, 4, 8)[flags >> 6]
        self._next((0 if single else 1) + dictionary + content, self._header_rest)

    def _header_rest(self, _: bytes) -> None:
        self._next(3, self._block)  # the window limit is the decoder's (max_window_size)

    def _block(self, head: bytes) -> None:
        value = int.from_bytes(head, "little")
        kind, size = value >> 1 & 3, value >> 3
        if kind == 3:  # Reserved block type
            self.bad = True
            return
        self._skip = 1 if kind == 1 else size  # an RLE block stores one byte
        if value & 1:  # Last_Block
            self._skip += 4 if self._checksum else 0
            self._between = True
            self._next(4, self._magic)


class CorruptStream(Exception):
    """The compressed bytes are invalid, truncated, followed by garbage, or need more memory
    than we allow. ``kind``: CORRUPT_COMPRESSION, TRUNCATED, TRAILING_DATA or LIMIT_EXCEEDED."""

    def __init__(self, kind: Kind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class Decoder:
    """Incremental gzip or zstd decoder over any number of members/frames."""

    def __init__(self, compression: Compression, budget: Budget | None = None) -> None:
        """``budget``: when given, OUT_CAP bytes are taken from it before each decoder call
        and what the piece does not use is given back at once; the receiver of a piece gives
        back its length when done with it. Raises ValueError for Compression.NONE."""
        if compression is Compression.NONE:
            raise ValueError("no decoder for uncompressed data")
        self.compression = compression
        self._budget: Budget = budget if budget is not None else _Unbounded()
        self._obj: Any = self._new()
        self._between = b""  # bytes seen after a member ended, before we know what follows
        self._in_member = True
        self._first = True  # the first frame's header is checked on the first feed
        # Bytes of output per decoder call, at most OUT_CAP: a reader may lower it so that a
        # piece is exactly what its caller asked for (no slicing, no joining).
        self.out_cap = OUT_CAP

    def _new(self) -> Any:
        if self.compression is Compression.GZIP:
            return _gzip().decompressobj(wbits=31)
        zstd = _zstd()
        window = zstd.DecompressionParameter.window_log_max
        return zstd.ZstdDecompressor(options={window: ZSTD_WINDOW_LOG_MAX})

    def _check_window(self, head: bytes) -> None:
        """Refuse a zstd frame whose window passes ZSTD_WINDOW_MAX before the decoder allocates
        it. libzstd refuses it too (the option above); this names the window in the problem."""
        if self.compression is not Compression.ZSTD:
            return
        window = zstd_window(head)
        if window is not None and window > ZSTD_WINDOW_MAX:
            raise CorruptStream(
                Kind.LIMIT_EXCEEDED,
                f"zstd frame declares a window of {window} bytes, over the limit of "
                f"{ZSTD_WINDOW_MAX} bytes (2^{ZSTD_WINDOW_LOG_MAX}, containerd's default)",
            )

    def _starts_member(self, head: bytes) -> bool:
        if self.compression is Compression.GZIP:
            return head[:2] == GZIP_MAGIC
        return _is_zstd_frame(head)

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Yield the decompressed output of ``data`` in pieces of at most ``out_cap`` bytes
        (read again before each decoder call)."""
        try:
            if self._first:
                self._first = False
                self._check_window(data)
            while data:
                if not self._in_member:
                    data = self._between + data
                    self._between = b""
                    if len(data) < _MEMBER_HEAD:
                        self._between = data
                        return
                    if not self._starts_member(data):
                        raise CorruptStream(
                            Kind.TRAILING_DATA, "data after the end of the compressed stream"
                        )
                    self._check_window(data)
                    self._obj, self._in_member = self._new(), True
                yield from self._drain(data)
                data = self._leftover()
        except _decode_errors(self.compression) as exc:
            raise CorruptStream(
                Kind.CORRUPT_COMPRESSION, f"invalid {self.compression.value} data: {exc}"
            ) from None

    def _drain(self, data: bytes) -> Iterator[bytes]:
        obj, budget = self._obj, self._budget
        while True:
            cap = self.out_cap
            out = _budgeted(budget, obj, data, cap)
            if out:
                yield out
            data = getattr(obj, "unconsumed_tail", b"")
            if obj.eof or (not data and len(out) < cap and self._needs_input()):
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
            raise CorruptStream(Kind.TRUNCATED, f"{self.compression.value} stream ends early")
        if self._between:
            raise CorruptStream(Kind.TRAILING_DATA, "data after the end of the compressed stream")


def _budgeted(budget: Budget, obj: Any, data: bytes, cap: int = OUT_CAP) -> bytes:
    """One decoder call (at most ``cap`` bytes of output) whose output buffer is reserved from
    ``budget`` before it exists."""
    budget.take(cap)
    out: bytes = b""
    try:
        out = obj.decompress(data, cap)
    finally:
        budget.give(cap - len(out))
    return out


# A read of at least this many bytes with nothing buffered is decoded straight into the piece
# it returns; a smaller one (a tar header) is served from a piece of this size.
DIRECT_READ = 1 << 16


class DecompressingReader:
    """A read-only file object over a compressed stream (for archives compressed as a whole).

    Every byte is copied at most once after the decoder made it, and only near small reads:
    a large read with nothing buffered returns the decoder's own output, made to the size
    asked (the decoder's ``out_cap``); a small read (a 512-byte tar header) is served from a
    piece of DIRECT_READ bytes, and the reads after it get the rest of that piece, copied only
    when they want less than all of it. ``read(n)`` may return fewer than ``n`` bytes (as a
    pipe does): b"" only at the end of the stream."""

    def __init__(self, raw: Readable, compression: Compression, chunk: int = 1 << 16) -> None:
        self._raw, self._chunk = raw, chunk
        self._decoder = Decoder(compression)
        self._pieces: Iterator[bytes] = iter(())
        self._buf = b""
        self._pos = 0  # bytes of _buf already served
        self._done = False

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            return b"".join(iter(lambda: self.read(OUT_CAP), b""))
        empty = self._pos >= len(self._buf)
        if empty and (
            n == 0 or not self._refill(min(n, OUT_CAP) if n >= DIRECT_READ else DIRECT_READ)
        ):
            return b""
        start, buf = self._pos, self._buf
        piece = buf if start == 0 and n >= len(buf) else buf[start : start + n]
        self._pos = start + len(piece)
        return piece

    def _refill(self, cap: int) -> bool:
        """Decode the next piece (at most ``cap`` bytes) into the buffer; False at the end."""
        self._decoder.out_cap = cap
        while not self._done:
            piece = next(self._pieces, None)
            if piece is not None:
                self._buf, self._pos = piece, 0
                return True
            data = self._raw.read(self._chunk)
            if not data:
                self._done = True
                self._decoder.finish()
                return False
            self._pieces = self._decoder.feed(data)
        return False
