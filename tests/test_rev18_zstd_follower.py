"""The pulled zstd path: it leaves a stream of tiny blocks to the pushing Decoder at once: its frame
follower parses each header in Python (about 40 times libzstd's cost), so 3-byte empty blocks
would make a 30 MB layer take seconds instead of a fraction of one. Real layers (blocks of up to
128 KiB of content, or very sparse content) stay on the pulled path. And at most PULL_MAX_SCANS
scans are pulled at once, each with its ring of buffers."""

from __future__ import annotations

import io
import threading
from typing import Any

import pytest
import zstandard

from ocianalyze import compression, walker
from ocianalyze.walker import ScanOptions, scan

from .builders import tar_bytes
from .independent import sha256


def _tar(files: dict[str, bytes]) -> bytes:
    return tar_bytes(files.items())


def _raw_frame(content: bytes, empty_blocks: int) -> bytes:
    """One zstd frame (RFC 8878 3.1.1: no content size, window 2^20) of ``empty_blocks``
    empty raw blocks, then ``content`` in raw blocks of at most 128 KiB, the last one marked."""
    out = bytearray(b"\x28\xb5\x2f\xfd\x00" + bytes([(20 - 10) << 3]))
    out += b"\x00\x00\x00" * empty_blocks  # raw, size 0, not last
    step = 1 << 17
    for at in range(0, len(content), step):
        part = content[at : at + step]
        last = at + step >= len(content)
        out += (int(last) | len(part) << 3).to_bytes(3, "little") + part
    return bytes(out)


class _Spy:
    """Counts the pushing Decoders made."""

    def __init__(self) -> None:
        self.made = 0
        self._real = walker.Decoder

    def __call__(self, *args: object, **kwargs: object) -> object:
        self.made += 1
        return self._real(*args, **kwargs)  # type: ignore[arg-type]


class _Reads:
    """A stream that cannot seek (so never pulled)."""

    def __init__(self, data: bytes) -> None:
        self._data, self._at = data, 0

    def read(self, n: int = -1) -> bytes:
        piece = self._data[self._at : self._at + (n if n >= 0 else len(self._data))]
        self._at += len(piece)
        return piece


TAR = _tar({"a": b"x" * 1000, "b": bytes(range(256)) * 40})


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> _Spy:
    monkeypatch.setattr(compression, "_FREE_HEADERS", 16)
    made = _Spy()
    monkeypatch.setattr(walker, "Decoder", made)
    return made


def test_a_frame_of_empty_blocks_goes_to_the_pushing_decoder(spy: _Spy) -> None:
    blob = _raw_frame(TAR, empty_blocks=200_000)
    pulled = scan(io.BytesIO(blob), layer=True, opts=ScanOptions(split=True))
    assert spy.made == 1  # the pulled path gave up, the pushing Decoder read it again
    pushed = scan(_Reads(blob), layer=True, opts=ScanOptions(split=True))
    assert pulled == pushed
    assert pulled.findings == ()
    assert str(pulled.digest) == sha256(blob)
    assert pulled.size == len(blob)
    assert str(pulled.diff_id) == sha256(TAR)
    assert pulled.uncompressed_size == len(TAR)


def test_the_follower_gives_up_within_a_chunk_of_the_budget() -> None:
    frames = compression.ZstdFrames()
    head = _raw_frame(b"", empty_blocks=0)
    frames.feed(head)
    frames.feed(b"\x00\x00\x00" * 2000)
    assert not frames.gave_up()  # 3 frame fields + 2000 blocks, under 4096 + 6006 // 512
    frames.feed(b"\x00\x00\x00" * 5000)
    assert frames.gave_up()  # 7003 headers, over 4096 + 21006 // 512
    assert not frames.complete()
    frames.paid(1 << 30)
    assert frames.gave_up()  # once given up, for good


def test_sparse_content_pays_for_its_headers_and_stays_pulled(spy: _Spy) -> None:
    """32 MiB of zeros: 256 blocks of a few stored bytes each, far past 16 headers for the
    stored bytes alone; what they decode to pays for them."""
    tar = _tar({"zeros": bytes(32 << 20)})
    blob = zstandard.ZstdCompressor(level=3).compress(tar)
    assert len(blob) < 16 * 512  # the stored bytes alone would not pay
    result = scan(io.BytesIO(blob), layer=True, opts=ScanOptions(split=True))
    assert spy.made == 0
    assert result.findings == ()
    assert str(result.diff_id) == sha256(tar)
    assert result.uncompressed_size == len(tar)


def test_past_the_limit_the_rest_is_hashed_not_followed(spy: _Spy) -> None:
    """Over --max-uncompressed the verdict is the limit: the rest (here 200 000 empty blocks)
    is hashed for the stored digest, and the layer is not read again."""
    blob = zstandard.ZstdCompressor(level=3).compress(TAR)
    blob = blob + _raw_frame(TAR, empty_blocks=200_000)
    opts = ScanOptions(split=True, max_uncompressed=len(TAR) // 2)
    result = scan(io.BytesIO(blob), layer=True, opts=opts)
    assert spy.made == 0
    assert [f[0].value for f in result.findings] == ["limit_exceeded"]
    assert str(result.digest) == sha256(blob)
    assert result.size == len(blob)


def test_at_most_pull_max_scans_layers_are_pulled_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Four zstd layers starting together: each pulled scan keeps a ring of buffers, so only
    PULL_MAX_SCANS of them are pulled at once; the others take the pushing path. (Scans that
    start together all pass the budget's member count before any joins it.)"""
    blob = zstandard.ZstdCompressor(level=3).compress(TAR)
    real = walker._scan_zstd_pulled
    state = threading.Condition()
    inside, most, settled = [0], [0], [0]  # held now, most held at once, ever entered
    release = threading.Event()

    def held(*args: Any, **kwargs: Any) -> Any:
        with state:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
            settled[0] += 1
            state.notify_all()
        release.wait(60)
        try:
            return real(*args, **kwargs)
        finally:
            with state:
                inside[0] -= 1

    monkeypatch.setattr(walker, "_scan_zstd_pulled", held)
    results: list[walker.BlobScan] = []

    def work() -> None:
        result = scan(io.BytesIO(blob), layer=True, opts=ScanOptions(split=True))
        with state:
            results.append(result)
            state.notify_all()

    threads = [threading.Thread(target=work, daemon=True) for _ in range(4)]
    for thread in threads:
        thread.start()
    with state:  # every scan is either held inside the pulled path or done without it
        state.wait_for(lambda: settled[0] + len(results) >= 4, timeout=60)
    release.set()
    for thread in threads:
        thread.join(timeout=60)
    assert most[0] == walker.PULL_MAX_SCANS == 1
    assert len(results) == 4
    for result in results:
        assert result.findings == ()
        assert str(result.diff_id) == sha256(TAR)


class _Counted(io.BytesIO):
    """A file that counts the bytes read from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.read_bytes = 0

    def read(self, n: int | None = -1) -> bytes:
        piece = super().read(n)
        self.read_bytes += len(piece)
        return piece


def test_once_the_follower_gives_up_the_blob_is_not_read_to_its_end_twice(spy: _Spy) -> None:
    """The pulled path stops where the follower gave up (a chunk or so in), not after hashing
    the rest: a hostile stream of tiny blocks costs one full read (the pushing Decoder's), plus
    what was read before giving up."""
    blob = _raw_frame(TAR, empty_blocks=2_000_000)  # ~6 MB of 3-byte block headers
    stream = _Counted(blob)
    result = scan(stream, layer=True, opts=ScanOptions(split=True))
    assert spy.made == 1
    assert str(result.digest) == sha256(blob)
    assert str(result.diff_id) == sha256(TAR)
    assert len(blob) <= stream.read_bytes < len(blob) + 4 * walker.CHUNK
