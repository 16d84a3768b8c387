"""The streaming scanner: the one place where blob bytes are read.

One pass over a blob, in 256 KiB chunks: hash the stored bytes, sniff the compression from the
first bytes, decompress, hash the tar stream (the diff_id) and walk its headers. Per scan,
nothing is buffered beyond one chunk and the decoder's state; decoder output and hand-offs
between threads count against one process-wide budget (IN_FLIGHT), so peak memory does not
grow with the blob's size nor with the number of scans running at once.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any

from .compression import (
    OUT_CAP,
    ZSTD_WINDOW_MAX,
    ByteBudget,
    CorruptStream,
    Decoder,
    Readable,
    Share,
    UnsupportedCompression,
    ZstdFrames,
    pulling_zstd,
    sniff,
    sniff_unsupported,
)
from .digest import Digest
from .entries import EntryTable
from .errors import Kind
from .mediatypes import Compression
from .record import record
from .safety import Finding, SafetyChecker
from .tarwalk import BLOCK, TarEntry, TarError, TarStats, TarWalker, _checksum_ok

CHUNK = 1 << 18  # measured: 256 KiB beat 64 KiB (fewer thread hand-offs) and 1 MiB
HASH_CHUNK = 1 << 20  # blobs that are only hashed: fewer, larger reads
DEFAULT_MAX_UNCOMPRESSED = 256 << 30  # 256 GiB per layer: past any real layer, a bomb stops
# Bytes of decoder output and of hand-offs between threads alive at once in the whole process:
# one split layer keeps 8 pieces of up to 1 MiB in flight as before; several layers share them
# fairly (see ByteBudget), so peak RSS does not grow with --jobs.
IN_FLIGHT_MAX = 8 << 20
# Scans reading at once in the whole process, whatever --jobs asks: besides its pieces (the
# budget above), each one holds a chunk and a decoder's state, so what is live at once stays
# 8 scans' worth. (What each thread's allocator arena keeps after its scan is the process's
# allocator policy, which the command line sets.) Past 8 threads, disk reads rather than
# cores set the pace (see cli._jobs).
MAX_SCANS = 8
_SCAN_SLOTS = threading.BoundedSemaphore(MAX_SCANS)


@record
class BlobScan:
    """What one read of a blob found. No path or descriptor context: the caller adds that."""

    digest: Digest
    size: int
    compression: Compression
    diff_id: Digest | None = None  # sha256 of the uncompressed tar, when it is one
    uncompressed_size: int | None = None
    tar: TarStats | None = None
    findings: tuple[Finding, ...] = ()  # (kind, message, findings it stands for)
    content: bytes | None = None  # the bytes themselves, when asked to keep small blobs
    entries: EntryTable | None = None  # every tar entry, when asked to collect them
    # The content's compression when it is one we recognise and do not read (xz, bzip2):
    # ``compression`` is then NONE and no diff_id is claimed.
    unsupported: UnsupportedCompression | None = None


@record
class ScanOptions:
    max_uncompressed: int = DEFAULT_MAX_UNCOMPRESSED
    keep: int = 0  # keep the content of blobs up to this many bytes (metadata in a stream)
    on_entry: Callable[[TarEntry], None] | None = None
    collect_entries: bool = False  # keep a compact listing of every tar entry
    split: bool = False  # inflate on this thread, hash and walk the tar on a second one
    hash_only: bool = False  # --fast: digests and sizes only, even for blobs in a stream
    # With collect_entries: the sha256 of every regular file's bytes too, in the listing (for
    # diff). The headers are then walked in Python, which sees the file data pass.
    hash_files: bool = False


def looks_like_tar(head: bytes) -> bool:
    return len(head) >= BLOCK and any(head[:BLOCK]) and _checksum_ok(head[:BLOCK])


IN_FLIGHT = ByteBudget(IN_FLIGHT_MAX)


class _TarSink:
    """Hashes the tar stream (unless told it is the stored stream) and walks its headers."""

    def __init__(self, opts: ScanOptions, share: Share, hash_tar: bool = True) -> None:
        self.share = share
        self.hasher = hashlib.sha256() if hash_tar else None
        self.entries = EntryTable(opts.hash_files) if opts.collect_entries else None
        self.safety = SafetyChecker()
        hashed = self.entries.set_hash if self.entries is not None and opts.hash_files else None
        each, screened = _visitors(opts.on_entry, self.entries, self.safety)
        self.walker = TarWalker(each, on_file_hash=hashed, on_screened=screened)
        self.failure: tuple[Kind, str] | None = None

    def take(self, piece: bytes) -> None:
        """Consume ``piece``, whose length was taken from the share, and give it back."""
        try:
            self._consume(piece)
        finally:
            self.share.give(len(piece))

    def _consume(self, piece: bytes) -> None:
        if self.hasher is not None:
            self.hasher.update(piece)
        if self.failure is None:
            try:
                self.walker.feed(piece)
            except TarError as exc:
                self.failure = (_TAR_KINDS[exc.kind], str(exc))

    def close(self) -> None:
        pass


_Item = tuple[Any, "queue.SimpleQueue[bytearray] | None"]
# A _ThreadedSink queue item: hash the next stored chunk. Told apart by identity: every other
# item is a tuple made when its piece is queued.
_STORED: _Item = (b"", None)


class _ThreadedSink(_TarSink):
    """The same work on a second thread, so one large layer keeps two cores busy: reading and
    inflating on one; hashing the stored bytes, hashing the tar and walking it on the other
    (hashlib and the decoders release the GIL). What waits in the queue counts against the
    layer's share of the process-wide IN_FLIGHT budget, so memory stays bounded however many
    layers run at once."""

    def __init__(self, opts: ScanOptions, share: Share, hash_tar: bool = True) -> None:
        super().__init__(opts, share, hash_tar)
        # Items: (a piece of the tar stream, the ring its buffer goes back to or None), or
        # _STORED: hash the next stored chunk. A SimpleQueue: its put and get are C code, and
        # what waits in it is bounded by the share and the ring, not by a count.
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self.stored: _OrderedHash | None = None
        # Work for the time no item waits: one step per call, True while there is more.
        self.idle: Callable[[], bool] | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="tar-sink", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while (item := self._next_item()) is not None:
                if item is _STORED:
                    assert self.stored is not None
                    self.stored.advance()
                    continue
                data, ring = item
                try:
                    self._consume(data)
                finally:
                    self._done_with(data, ring)
        except BaseException as exc:  # a bug: hand it to the reading thread, at close()
            self._error = exc
            while (item := self._queue.get()) is not None:  # keep the reader from blocking
                if item is _STORED:  # on the budget too: hashed, the chunk is given back
                    assert self.stored is not None
                    self.stored.advance()
                else:
                    self._done_with(*item)

    def _next_item(self) -> _Item | None:
        """The next item, after doing the ``idle`` work while none waits."""
        idle = self.idle
        if idle is not None:
            while self._queue.empty() and idle():
                pass
        return self._queue.get()

    def _done_with(self, data: Any, ring: queue.SimpleQueue[bytearray] | None) -> None:
        """Give back ``data``'s bytes, and its buffer to ``ring`` for the next piece."""
        self.share.give(len(data))
        if ring is not None:
            ring.put(data.obj)

    def take(self, piece: bytes) -> None:
        self._queue.put((piece, None))  # its bytes are given back once consumed

    def take_view(self, piece: memoryview, ring: queue.SimpleQueue[bytearray]) -> None:
        """Like ``take``; once consumed, the buffer under ``piece`` goes back to ``ring``."""
        self._queue.put((piece, ring))

    def hand_over(self, hasher: Any) -> _OrderedHash:
        """``hasher`` as an _OrderedHash this sink's thread advances, in turn with the pieces
        of the tar stream queued before each chunk."""
        self.stored = _OrderedHash(hasher, self.share, lambda: self._queue.put(_STORED))
        return self.stored

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise error


class _OrderedHash:
    """A hash of the stored bytes that either thread may advance, in order.

    The reading thread queues each chunk (``update``; its bytes are taken from the share) and
    wakes the sink, which hashes one chunk per wake, in turn with the tar pieces. While the
    reading thread would wait for a free buffer (the sink is behind), it hashes some of the
    waiting bytes itself (``help``), a slice at a time so that a buffer coming back is not
    kept waiting long. A lock keeps updates in order; the hash is whole once the sink has
    taken every wake (each chunk has one, and a wake finishes a chunk however much of it the
    reading thread hashed). Measured on the bench's zstd layer, against the sink hashing
    every chunk: the scan's wall time drops by 4% (benchmarks/README.md, issue 18)."""

    def __init__(self, hasher: Any, share: Share, wake: Callable[[], None]) -> None:
        self.hasher = hasher
        self.share, self._wake = share, wake
        self._waiting: deque[bytes] = deque()
        self._done = 0  # bytes of the first waiting chunk already hashed
        self._lock = threading.Lock()

    def update(self, chunk: bytes, taken: bool = False) -> None:
        """Queue ``chunk``, taking its bytes from the share unless the caller has."""
        if not taken:
            self.share.take(len(chunk))
        self._waiting.append(chunk)
        self._wake()

    def advance(self) -> None:
        """Hash the rest of the first waiting chunk (the sink, at a wake)."""
        with self._lock:
            if self._waiting:
                self._hash(len(self._waiting[0]))

    def help(self, most: int) -> bool:
        """Hash up to ``most`` waiting bytes unless the other thread is hashing; whether any
        were hashed (the reading thread, while it would wait)."""
        if not self._lock.acquire(blocking=False):
            return False
        try:
            return bool(self._waiting) and self._hash(most) > 0
        finally:
            self._lock.release()

    def _hash(self, most: int) -> int:
        chunk, done = self._waiting[0], self._done
        step = min(most, len(chunk) - done)
        self.hasher.update(
            memoryview(chunk)[done : done + step] if done or step < len(chunk) else chunk
        )
        self._done += step
        if self._done == len(chunk):
            self._waiting.popleft()
            self._done = 0
            self.share.give(len(chunk))
        return step


def _new_sink(opts: ScanOptions, share: Share, hash_tar: bool) -> _TarSink:
    """A sink on a second thread when asked and the system grants one (under a tight
    ``ulimit -v`` or a thread limit it may not: then the same work on this thread)."""
    if opts.split:
        try:
            return _ThreadedSink(opts, share, hash_tar)
        except RuntimeError:  # "can't start new thread"
            pass
    return _TarSink(opts, share, hash_tar)


class _Layer:
    """The decompress → hash → walk half of a scan, fed stored chunks."""

    def __init__(self, compression: Compression, opts: ScanOptions, hash_tar: bool) -> None:
        self.share = IN_FLIGHT.share()
        plain = compression is Compression.NONE
        self.decoder = None if plain else Decoder(compression, self.share)
        self.sink = _new_sink(opts, self.share, hash_tar)
        self.size = 0
        self.limit = opts.max_uncompressed
        self.failure: tuple[Kind, str] | None = None

    def feed(self, chunk: bytes) -> None:
        if self.failure:
            return
        try:
            if self.decoder is None:
                self.share.take(len(chunk))
                self._out(chunk)
            else:
                for piece in self.decoder.feed(chunk):
                    self._out(piece)
        except CorruptStream as exc:
            self.failure = (exc.kind, str(exc))
        except _LimitExceeded:
            self.over_limit()

    def over_limit(self) -> None:
        self.failure = (
            Kind.LIMIT_EXCEEDED,
            f"uncompressed size passes the limit of {self.limit} bytes",
        )

    def _out(self, piece: bytes) -> None:
        """Hand ``piece`` (its length taken from the share) to the sink, which gives it back."""
        self.size += len(piece)
        if self.size > self.limit:
            self.share.give(len(piece))
            raise _LimitExceeded
        self.sink.take(piece)

    def out_view(self, buf: bytearray, size: int, ring: queue.SimpleQueue[bytearray]) -> None:
        """``_out`` for the first ``size`` bytes of ``buf``, a buffer of ``ring``, handed over
        as a view (``take_view``: a _ThreadedSink only)."""
        self.size += size
        if self.size > self.limit:
            self.share.give(size)
            ring.put(buf)
            raise _LimitExceeded
        assert isinstance(self.sink, _ThreadedSink)
        self.sink.take_view(memoryview(buf)[:size], ring)

    def close(self) -> None:
        """Stop the sink's thread (raising what failed there) and leave the budget."""
        try:
            self.sink.close()
        finally:
            self.share.close()

    def finish(self) -> list[Finding]:
        self.close()
        if self.failure is None and self.decoder is not None:
            try:
                self.decoder.finish()
            except CorruptStream as exc:
                self.failure = (exc.kind, str(exc))
        if self.failure:
            return [(*self.failure, 1)]
        sink = self.sink
        if self.size == 0:
            return []  # no bytes at all: Go's archive/tar reads an empty archive, as Docker does
        found = list(sink.safety.summary())
        if sink.failure is None and self.size < BLOCK:
            sink.failure = (Kind.NOT_A_TAR, _too_short(self.size))
        if sink.failure is None:
            try:
                if not sink.walker.finish().clean_end:
                    found.append((Kind.MISSING_END_OF_ARCHIVE, _NO_END, 1))
            except TarError as exc:
                sink.failure = (_TAR_KINDS[exc.kind], str(exc))
        return [(*sink.failure, 1), *found] if sink.failure else found


def _too_short(size: int) -> str:
    return f"{size} bytes of content, shorter than one {BLOCK}-byte tar header: not a tar archive"


_NO_END = "tar stream ends at an entry boundary without its end-of-archive blocks"


def _visitors(
    on_entry: Callable[[TarEntry], None] | None, table: EntryTable | None, safety: SafetyChecker
) -> tuple[Callable[[list[TarEntry]], None], Callable[[list[TarEntry]], None]]:
    """The walker's batch visitors: the caller's per-entry callback, the listing, and the
    safety checks (which look at a whole batch at once: see SafetyChecker.check); the second
    for batches the C loop screened (SafetyChecker.check_screened)."""
    if on_entry is None and table is None:
        return safety.check, safety.check_screened

    budget = [LONG_NAMES_BUDGET]  # bytes of names past PATH_MAX this layer's listing keeps

    def visit(entries: list[TarEntry], check: Callable[[list[TarEntry]], None]) -> None:
        if on_entry is not None:
            for entry in entries:
                on_entry(entry)
        if table is not None:
            table.add_all(_listable(entries, budget))
        check(entries)

    return partial(visit, check=safety.check), partial(visit, check=safety.check_screened)


LISTED_NAME_MAX = 4096  # PATH_MAX: longer names cannot be unpacked on Linux
LONG_NAMES_BUDGET = 8 << 20  # bytes of such names one layer's listing keeps whole


def _listable(entries: list[TarEntry], budget: list[int]) -> list[TarEntry]:
    """The entries as the listing keeps them. Go reads PAX names up to 1 MiB, which no Linux
    file system can create; a layer's listing keeps such names whole up to ``budget[0]``
    bytes in all (so deep paths still merge exactly), and past it cuts each at PATH_MAX with a
    mark that keeps it distinct: a few hundred one-megabyte names cost kilobytes, not hundreds
    of MB. The safety checks see every entry whole."""
    long = [
        e for e in entries if len(e.name) > LISTED_NAME_MAX or len(e.linkname) > LISTED_NAME_MAX
    ]
    if not long:
        return entries
    out = []
    for entry in entries:
        size = len(entry.name) + len(entry.linkname)
        if size > LISTED_NAME_MAX and budget[0] < size:
            cut = _cut(entry.name)
            entry = entry._replace(name=cut, linkname=_cut(entry.linkname), raw_name=cut)  # noqa: PLW2901
        elif size > LISTED_NAME_MAX:
            budget[0] -= size
        out.append(entry)
    return out


def _cut(text: str) -> str:
    """``text`` itself, or its first LISTED_NAME_MAX characters and a mark that keeps two
    long names distinct (a hash of the whole), so the merge still tells them apart."""
    if len(text) <= LISTED_NAME_MAX:
        return text
    whole = hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    rest = len(text) - LISTED_NAME_MAX
    return f"{text[:LISTED_NAME_MAX]}...[{rest} more characters, sha256 {whole}]"


class _LimitExceeded(Exception):
    pass


_TAR_KINDS = {"not_a_tar": Kind.NOT_A_TAR, "truncated": Kind.TRUNCATED}


def _read_head(stream: Readable) -> bytes:
    """The first chunk, at least one tar block long unless the stream is shorter: pipes may
    return short reads, and sniffing needs whole magic numbers and a whole header."""
    head = stream.read(CHUNK)
    while 0 < len(head) < BLOCK:
        more = stream.read(CHUNK)
        if not more:
            break
        head += more
    return head


def scan(
    stream: Readable,
    algorithm: str = "sha256",
    *,
    layer: bool | None = None,
    opts: ScanOptions = ScanOptions(),
) -> BlobScan:
    """Read ``stream`` to its end once and report what it holds.

    ``layer``: True to insist the blob is a (possibly compressed) tar, False to only hash it,
    None to decide from its first bytes (compressed, empty, or a valid tar header, means a
    layer). A layer is always walked as a tar: content that is not one gets a NOT_A_TAR (or
    stream) finding. Layer content in a compression we recognise but do not read (xz, bzip2)
    is only hashed, with an UNSUPPORTED_COMPRESSION finding and no diff_id. An empty layer
    (no bytes, or a compressed stream of none) is an empty tar, as Go's archive/tar reads it.
    Blocks while MAX_SCANS other scans are reading.
    """
    with _SCAN_SLOTS:
        return _scan(stream, algorithm, layer, opts)


def _scan(stream: Readable, algorithm: str, layer: bool | None, opts: ScanOptions) -> BlobScan:
    stored = hashlib.new(algorithm)
    head = _read_head(stream)
    compression = sniff(head)
    unsupported = None
    if layer is not False and compression is Compression.NONE and not looks_like_tar(head):
        unsupported = sniff_unsupported(head)
    if unsupported is not None:
        return _scan_unsupported(stream, head, algorithm, unsupported, opts.keep)
    if layer is None:
        layer = compression is not Compression.NONE or looks_like_tar(head) or not head
    # An uncompressed sha256 blob is its own tar stream: one hash gives digest and diff_id
    # (docker save writes its layers so).
    tar_is_stored = compression is Compression.NONE and algorithm == "sha256"
    if layer and _pulls(compression, opts):
        pulled, head = _try_pulled(stream, head, algorithm, opts)
        if pulled is not None:
            return pulled
    tar = _Layer(compression, opts, hash_tar=not tar_is_stored) if layer else None
    try:
        update: Callable[[bytes], None] = stored.update
        sink = tar.sink if tar is not None else None
        if isinstance(sink, _ThreadedSink):
            # The stored hash goes to the other thread: decoding is the longest stage, so the
            # reading thread does nothing else. Measured on the bench's zstd layer (CPU
            # seconds per thread, reading / other): 0.67 / 0.48 when the reading thread
            # hashed stored chunks whenever the other had work queued, 0.60 / 0.53 so
            # (decoding alone: 0.55; gzip inflates slower still).
            update = sink.hand_over(stored).update
        size, content = _read(stream, head, update, tar, opts.keep)
    finally:
        if tar is not None:
            tar.close()
    digest = Digest(algorithm, stored.hexdigest())
    if tar is None:
        return BlobScan(digest, size, compression, content=content)
    return _layer_scan(digest, size, compression, tar, content)


def _layer_scan(
    digest: Digest, size: int, compression: Compression, tar: _Layer, content: bytes | None
) -> BlobScan:
    findings = tar.finish()
    ok = tar.failure is None and tar.sink.failure is None
    return BlobScan(
        digest,
        size,
        compression,
        diff_id=None if tar.failure else _diff_id(digest, tar.sink.hasher),
        uncompressed_size=None if tar.failure else tar.size,
        tar=tar.sink.walker.stats if ok else None,
        entries=tar.sink.entries if ok else None,
        findings=tuple(findings),
        content=content,
    )


PULL_RING = 4  # buffers of OUT_CAP bytes a pulled zstd scan decodes into, reused
# Stored bytes per read of a pulled scan. Measured: 1 MiB beat 256 KiB (a quarter of the
# hand-backs into Python) while the decoding thread did the reads; with the sink reading ahead
# the two are as fast, and 1 MiB chunks (each also held by the stored hash) cost ~3 MiB more
# peak RSS on the bench's zstd layer.
PULL_CHUNK = CHUNK
PULL_HELP = 1 << 17  # stored bytes the reading thread hashes between looks at its ring
PULL_AHEAD = 2  # stored chunks the sink reads ahead of the decoder while idle
# Layers reading at once (each with its share of IN_FLIGHT) past which a new zstd layer is
# not pulled: each pulled scan keeps its ring (4 MiB) whatever its share, so at most this
# many rings are alive. One: the case the ring is for is one large layer split over both
# cores; each ring adds its 4 MiB to the peak of a run of many zstd layers at a high --jobs
# (seven layers at --jobs 8 came to 65-67 MiB with two, past the 64 MiB budget).
PULL_MAX_SCANS = 1


# Taken without waiting by each pulled scan: the members test below is only a hint (scans
# starting together all pass it before any joins the budget), this is the bound on rings.
_PULL_SLOTS = threading.BoundedSemaphore(PULL_MAX_SCANS)


def _try_pulled(
    stream: Readable, head: bytes, algorithm: str, opts: ScanOptions
) -> tuple[BlobScan | None, bytes]:
    """The pulled scan of a zstd layer where a pull slot is free and ``stream`` can be read
    again, and ``head``; else None and the head to read it from again (at its start)."""
    if not _PULL_SLOTS.acquire(blocking=False):
        return None, head
    try:
        start = _rewind_point(stream, head)
        if start is None:
            return None, head
        pulled = _scan_zstd_pulled(stream, head, algorithm, opts)
        if pulled is not None:
            return pulled, head
        stream.seek(start)  # type: ignore[attr-defined]  # _rewind_point checked it can
        return None, _read_head(stream)
    finally:
        _PULL_SLOTS.release()


def _pulls(compression: Compression, opts: ScanOptions) -> bool:
    """Whether a zstd layer is decoded by pulling (see _scan_zstd_pulled)."""
    return (
        compression is Compression.ZSTD
        and opts.split
        and not opts.keep
        and IN_FLIGHT.members < PULL_MAX_SCANS
        and pulling_zstd() is not None
    )


def _rewind_point(stream: Readable, head: bytes) -> int | None:
    """Where ``stream`` started, when it can be read again from there (a file)."""
    seekable = getattr(stream, "seekable", None)
    try:
        if seekable is None or not seekable():
            return None
        return int(stream.tell()) - len(head)  # type: ignore[attr-defined]
    except (OSError, AttributeError, ValueError):
        return None


class _Pulled:
    """The stored bytes as the pulling decoder reads them: each chunk also goes to the stored
    hash and to the frame follower, in the order read.

    The sink thread reads up to PULL_AHEAD chunks ahead while it has nothing else to do
    (``prefetch``): for most of a layer the decoding thread sets the pace and the sink idles a
    third of the time, so the decoding thread is spared the reads' copies and the follower.
    Measured on the bench's zstd layer: the scan 0.59 s without, 0.565 s with. Whoever reads
    a chunk does all three steps under one lock, so the order holds; the chunks read ahead
    count against the share until hashed, and are at most PULL_AHEAD chunks after that."""

    def __init__(
        self, stream: Readable, head: bytes, stored: _OrderedHash, frames: ZstdFrames
    ) -> None:
        self._stream, self._next, self._stored, self.frames = stream, head, stored, frames
        self.size = 0
        # While decoding: once the follower gives up, the decoder is starved (it then ends as
        # at a truncation) so that the caller falls back at once, not after the whole blob.
        self.starve = True
        self.follow = True  # whether the follower still needs the bytes
        self._ahead: deque[bytes] = deque()  # read ahead by the sink, not yet decoded
        self._lock = threading.Lock()
        self._reading_ahead = True

    def read(self, n: int = -1) -> bytes:
        if self.starve and self.frames.gave_up():
            return b""
        if self._ahead:
            return self._ahead.popleft()
        with self._lock:  # the sink may be reading the next chunk: wait for it, in order
            if self._ahead:
                return self._ahead.popleft()
            chunk = self._intake(self._next or self._stream.read(PULL_CHUNK))
            if chunk:
                self._stored.update(chunk)
            return chunk

    def stop_reading_ahead(self) -> None:
        """From here on only ``read`` reads (once decoding is over)."""
        with self._lock:
            self._reading_ahead = False

    def prefetch(self) -> bool:
        """Read the next chunk ahead (the sink thread, while idle), unless enough are ahead,
        the budget has no room for one without waiting (the sink gives bytes back: it must
        never wait on them), or the read fails (the decoding thread then meets the error
        itself, as it would have). Whether a chunk was read."""
        if len(self._ahead) >= PULL_AHEAD or not self._lock.acquire(blocking=False):
            return False
        try:
            if not self._reading_ahead or self._next or self.frames.bad:
                return False
            share = self._stored.share
            if not share.try_take(PULL_CHUNK):
                return False
            held = PULL_CHUNK  # given back unless queued, whatever is raised (MemoryError):
            try:  # the decoding thread may be waiting for these very bytes
                try:
                    chunk = self._stream.read(PULL_CHUNK)
                except (OSError, ValueError):
                    self._reading_ahead = False
                    return False
                share.give(PULL_CHUNK - len(chunk))
                held = len(chunk)
                if not chunk:  # the end: the decoding thread's own read finds it again
                    self._reading_ahead = False
                    return False
                self._ahead.append(self._intake(chunk))
                self._stored.update(chunk, taken=True)
                held = 0
                return True
            finally:
                if held:
                    share.give(held)
        finally:
            self._lock.release()

    def _intake(self, chunk: bytes) -> bytes:
        """Count and follow ``chunk`` (under the lock)."""
        self._next = b""
        if chunk:
            self.size += len(chunk)
            if self.follow:
                self.frames.feed(chunk)
        return chunk


def _scan_zstd_pulled(
    stream: Readable, head: bytes, algorithm: str, opts: ScanOptions
) -> BlobScan | None:
    """A zstd layer decoded by zstandard's stream reader straight into a ring of reused
    buffers, handed to the sink thread as views: no piece is allocated, none copied (the
    pushing Decoder returns a new bytes object per piece, joined from several blocks: measured,
    0.06 of the reading thread's 0.60 CPU seconds on the bench layer, the stage that sets the
    pace). None when the stream is not plainly whole frames (a decoding error, truncation,
    trailing bytes, a window past the limit): the caller then reads it again with the pushing
    Decoder, which names the problem, so verdicts are the same on both paths."""
    zstandard = pulling_zstd()
    assert zstandard is not None
    stored = hashlib.new(algorithm)
    tar = _Layer(Compression.NONE, opts, hash_tar=True)  # no decoder: pieces come from here
    try:
        if not isinstance(tar.sink, _ThreadedSink):
            return None
        ordered = tar.sink.hand_over(stored)
        source = _Pulled(stream, head, ordered, ZstdFrames())
        tar.sink.idle = source.prefetch
        decoder = zstandard.ZstdDecompressor(max_window_size=ZSTD_WINDOW_MAX)
        reader = decoder.stream_reader(source, read_size=PULL_CHUNK, read_across_frames=True)
        pulled = _pull(reader, tar, zstandard.ZstdError, source.frames, ordered)
        source.stop_reading_ahead()
        if not pulled or (tar.failure is None and source.frames.bad):
            return None  # the follower gave up: the rest is read once, by the pushing Decoder
        # the rest is hashed; followed only if the verdict still rests on its frames
        source.starve, source.follow = False, tar.failure is None
        while source.read(CHUNK):  # after the last frame, or past the limit: hash the rest
            pass
        if tar.failure is None and not source.frames.complete():
            return None
    finally:
        tar.close()
    digest = Digest(algorithm, stored.hexdigest())
    return _layer_scan(digest, source.size, Compression.ZSTD, tar, None)


def _pull(
    reader: Any, tar: _Layer, errors: type[Exception], frames: ZstdFrames, stored: _OrderedHash
) -> bool:
    """Decode into the ring until the end, or until the size limit (a finding); False on a
    decoding error. What is decoded pays for the headers ``frames`` follows; while no buffer
    is free, the stored hash is helped along."""
    ring: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
    for _ in range(PULL_RING):
        ring.put(bytearray(OUT_CAP))
    while True:
        while ring.empty() and stored.help(PULL_HELP):
            pass
        buf = ring.get()  # back from the sink thread once it is done with it
        try:
            got = reader.readinto(buf)
        except errors:
            return False
        if not got:
            return True
        frames.paid(got)
        # Taken once decoded, not reserved before: the decoder reads stored chunks, which
        # take from the same share, while it decodes (the ring bounds this scan's memory).
        tar.share.take(got)
        try:
            tar.out_view(buf, got, ring)
        except _LimitExceeded:
            tar.over_limit()
            return True


def _scan_unsupported(
    stream: Readable, head: bytes, algorithm: str, unsupported: UnsupportedCompression, keep: int
) -> BlobScan:
    """Hash a layer we cannot inflate and say why nothing else about it is known."""
    stored = hashlib.new(algorithm)
    size, content = _read(stream, head, stored.update, None, keep)
    finding = (
        Kind.UNSUPPORTED_COMPRESSION,
        f"content is {unsupported.value}-compressed, which ocianalyze does not read (only "
        "gzip, zstd and uncompressed tar layers, as containerd): diff_id and files unchecked",
        1,
    )
    digest = Digest(algorithm, stored.hexdigest())
    return BlobScan(
        digest,
        size,
        Compression.NONE,
        findings=(finding,),
        content=content,
        unsupported=unsupported,
    )


def _diff_id(stored: Digest, hasher: Any) -> Digest:
    return stored if hasher is None else Digest("sha256", hasher.hexdigest())


def _read(
    stream: Readable,
    head: bytes,
    update: Callable[[bytes], None],
    tar: _Layer | None,
    keep: int,
) -> tuple[int, bytes | None]:
    """The read loop: every stored byte goes to the hash and, for a layer, to the decoder."""
    kept: list[bytes] | None = [] if keep else None
    step = CHUNK if tar is not None else HASH_CHUNK
    size, chunk = 0, head
    while chunk:
        size += len(chunk)
        update(chunk)
        if tar is not None:
            tar.feed(chunk)
        if kept is not None:
            kept.append(chunk)
            if size > keep:
                kept = None
        chunk = stream.read(step)
    return size, b"".join(kept) if kept is not None else None
