"""The stored hash of a split scan is advanced by both threads (walker._OrderedHash): the sink
hashes one queued chunk per wake, and the reading thread hashes slices of the waiting bytes
while no buffer of its ring is free. Whoever hashes, the bytes go into the hash once each and
in order, every byte taken from the budget is given back, and no interleaving leaves a scan
waiting forever. Digests are checked against hashlib and zstandard over the same bytes."""

from __future__ import annotations

import hashlib
import io
import random
import threading
import time
from typing import Any

import pytest
import zstandard

from ocianalyze import walker
from ocianalyze.compression import ByteBudget
from ocianalyze.walker import ScanOptions, scan

from .independent import sha256
from .test_perf_split import TAR, ZSTD_CASES, _zstd_frames


def _chunks(seed: int, count: int = 40) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(rng.randrange(1, 5000)) for _ in range(count)]


class _Wakes:
    """Stands for the sink's queue: counts the wakes the ordered hash asks for."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


@pytest.mark.parametrize("seed", range(6))
def test_any_mix_of_helping_and_advancing_hashes_each_byte_once_in_order(seed: int) -> None:
    """One thread plays both parts in a random order: slices of any size from the reading
    thread, whole chunks from the sink (one per wake, as the sink does, never more)."""
    rng = random.Random(seed)
    chunks = _chunks(seed)
    budget = ByteBudget(1 << 30)
    share = budget.share()
    wakes = _Wakes()
    ordered = walker._OrderedHash(hashlib.sha256(), share, wakes)
    advanced = 0
    for chunk in chunks:
        ordered.update(chunk)
        for _ in range(rng.randrange(3)):
            if rng.random() < 0.5:
                ordered.help(rng.choice([1, 7, 512, 4096, 1 << 20]))
            elif advanced < wakes.count:
                ordered.advance()
                advanced += 1
    while advanced < wakes.count:  # the sink takes its remaining wakes
        ordered.advance()
        advanced += 1
    assert wakes.count == len(chunks)
    assert ordered.hasher.hexdigest() == hashlib.sha256(b"".join(chunks)).hexdigest()
    assert share.held == 0 and budget.used == 0


def test_helping_with_nothing_waiting_hashes_nothing() -> None:
    ordered = walker._OrderedHash(hashlib.sha256(), ByteBudget(1 << 20).share(), _Wakes())
    assert ordered.help(4096) is False
    ordered.advance()  # a wake whose chunk the reading thread already hashed: nothing left
    assert ordered.hasher.hexdigest() == hashlib.sha256(b"").hexdigest()


def test_a_help_slice_stops_at_its_chunks_end() -> None:
    """A slice never runs into the next chunk: the first chunk's bytes are given back, and
    the second waits whole for its own wake."""
    budget = ByteBudget(1 << 20)
    share = budget.share()
    ordered = walker._OrderedHash(hashlib.sha256(), share, _Wakes())
    ordered.update(b"a" * 10)
    ordered.update(b"b" * 10)
    assert ordered.help(6) and share.held == 20
    assert ordered.help(100) and share.held == 10  # the rest of the first chunk only
    ordered.advance()
    assert share.held == 0
    assert ordered.hasher.hexdigest() == hashlib.sha256(b"a" * 10 + b"b" * 10).hexdigest()


def test_two_threads_racing_on_one_ordered_hash_keep_the_order() -> None:
    """The real sink thread advances on its wakes while this thread helps with slices large
    enough that hashlib lets go of the GIL midway (so the two really overlap): the digest is
    still the digest of the bytes in order, each once."""
    sink = walker._ThreadedSink(ScanOptions(), ByteBudget(1 << 30).share())
    hasher = hashlib.sha256()
    ordered = sink.hand_over(hasher)
    rng = random.Random(7)
    chunks = [rng.randbytes(rng.randrange(20_000, 300_000)) for _ in range(120)]
    for chunk in chunks:
        ordered.update(chunk)
        while ordered.help(16_411):
            pass
    sink.close()
    assert hasher.hexdigest() == hashlib.sha256(b"".join(chunks)).hexdigest()
    assert sink.share.held == 0


@pytest.fixture
def slow_sink(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """A ring of two buffers, stored chunks of an odd size, slices of an odd size, and a sink
    that lingers over each tar piece: while it lingers, the reading thread decodes the next
    piece (queueing stored chunks behind the lingering one) and then finds its ring empty
    with stored bytes waiting, so it helps. Counts the bytes it hashed."""
    monkeypatch.setattr(walker, "PULL_RING", 2)
    monkeypatch.setattr(walker, "PULL_CHUNK", 40_009)
    monkeypatch.setattr(walker, "PULL_HELP", 3_001)
    consume = walker._TarSink._consume

    def lingering(self: Any, piece: Any) -> None:
        time.sleep(0.002)
        consume(self, piece)

    monkeypatch.setattr(walker._TarSink, "_consume", lingering)
    helped = {"bytes": 0}
    reader = threading.get_ident()
    hash_part = walker._OrderedHash._hash

    def counted(self: Any, most: int) -> int:
        step: int = hash_part(self, most)
        if threading.get_ident() == reader:
            helped["bytes"] += step
        return step

    monkeypatch.setattr(walker._OrderedHash, "_hash", counted)
    return helped


def test_a_pulled_scan_whose_reader_helps_gives_the_independent_digests(
    slow_sink: dict[str, int],
) -> None:
    blob = _zstd_frames(TAR)
    result = scan(io.BytesIO(blob), layer=True, opts=ScanOptions(split=True))
    assert slow_sink["bytes"] > 0  # the reading thread did hash stored bytes
    assert str(result.digest) == sha256(blob)
    assert result.size == len(blob)
    plain = zstandard.ZstdDecompressor().stream_reader(blob, read_across_frames=True).read()
    assert str(result.diff_id) == sha256(plain)
    assert result.findings == ()


def test_a_pulled_scan_under_a_budget_smaller_than_one_chunk_finishes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every take then waits until nothing else is held: stored chunks queued for the sink
    must still be hashed and given back, whoever holds the lock, or the scan would hang."""
    monkeypatch.setattr(walker, "IN_FLIGHT", ByteBudget(1 << 12))
    monkeypatch.setattr(walker, "PULL_CHUNK", 1 << 16)
    blob = _zstd_frames(TAR)
    results: list[Any] = []
    worker = threading.Thread(
        target=lambda: results.append(
            scan(io.BytesIO(blob), layer=True, opts=ScanOptions(split=True))
        ),
        daemon=True,
    )
    worker.start()
    worker.join(timeout=120)  # generous: a deadlock, not a slow machine, would pass it
    assert results, "the scan did not finish"
    assert str(results[0].digest) == sha256(blob)
    assert str(results[0].diff_id) == sha256(TAR)


# --- the sink reads stored chunks ahead while idle (walker._Pulled.prefetch) -----------------


@pytest.fixture
def slow_decoder(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """The decoding thread lingers before each read of stored bytes, so the sink is idle and
    reads ahead; stored chunks of an odd size. Counts the chunks read ahead. The pushing
    decoder is refused: a sound layer must not need it."""
    monkeypatch.setattr(walker, "PULL_CHUNK", 10_007)
    read = walker._Pulled.read

    def lingering(self: Any, n: int = -1) -> bytes:
        time.sleep(0.001)
        return read(self, n)

    monkeypatch.setattr(walker._Pulled, "read", lingering)
    ahead = {"chunks": 0}
    prefetch = walker._Pulled.prefetch

    def counted(self: Any) -> bool:
        got: bool = prefetch(self)
        ahead["chunks"] += got
        return got

    monkeypatch.setattr(walker._Pulled, "prefetch", counted)
    return ahead


def test_chunks_read_ahead_by_the_sink_keep_the_digests(
    slow_decoder: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_: object) -> None:
        raise AssertionError("the pushing decoder was used")

    monkeypatch.setattr(walker, "Decoder", refuse)
    blob = _zstd_frames(TAR)
    result = scan(io.BytesIO(blob), layer=True, opts=ScanOptions(split=True))
    assert slow_decoder["chunks"] > 10  # most of the blob was read ahead
    assert str(result.digest) == sha256(blob)
    assert result.size == len(blob)
    assert str(result.diff_id) == sha256(TAR)
    assert result.findings == ()


@pytest.mark.parametrize("name", sorted(ZSTD_CASES))
def test_reading_ahead_gives_every_zstd_verdict_unchanged(
    slow_decoder: dict[str, int], name: str
) -> None:
    blob, kinds = ZSTD_CASES[name]
    result = scan(io.BytesIO(blob), layer=True, opts=ScanOptions(split=True))
    assert [f[0].value for f in result.findings] == kinds
    assert str(result.digest) == sha256(blob)
    assert result.size == len(blob)


class _FailsAt(io.BytesIO):
    """A file whose reads fail with EIO once they reach ``at``."""

    def __init__(self, data: bytes, at: int) -> None:
        super().__init__(data)
        self.at = at

    def read(self, n: int | None = -1) -> bytes:
        if self.tell() + (n if n is not None and n >= 0 else 1) > self.at:
            raise OSError(5, "Input/output error")
        return super().read(n)


@pytest.mark.parametrize("ahead", [0, 2])
def test_a_read_error_ahead_reaches_the_caller_as_without_reading_ahead(
    slow_decoder: dict[str, int], monkeypatch: pytest.MonkeyPatch, ahead: int
) -> None:
    """The sink meeting the error while reading ahead does not end the blob there: the
    decoding thread reads that chunk itself and raises the error, as with no reading ahead."""
    monkeypatch.setattr(walker, "PULL_AHEAD", ahead)
    blob = _zstd_frames(TAR)
    with pytest.raises(OSError, match="Input/output error"):
        scan(_FailsAt(blob, len(blob) // 2), layer=True, opts=ScanOptions(split=True))
