"""A layer scanned on two threads (``split``: inflate on the reading thread; hash the stored
bytes, hash the tar and walk it on the other) finds exactly what one thread finds, and what the
standard library and zstandard compute from the same bytes: chunks handed between the threads
keep their order whatever the read sizes, the compression and the number of frames."""

from __future__ import annotations

import gzip
import io
import random
import tarfile
import threading
from pathlib import Path

import pytest
import zstandard

from ocianalyze.walker import BlobScan, ScanOptions, scan

from .builders import Trickle, build_layout
from .conftest import run_cli
from .independent import layer_truth, sha256


def _layer_tar(files: int = 120, most: int = 96 << 10) -> bytes:
    """A tar of ``files`` files of random sizes up to ``most`` bytes, half of them compressible,
    so that decoder pieces and stored chunks interleave in many sizes (~6 MB in all)."""
    rng = random.Random(files)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for i in range(files):
            size = rng.randrange(0, most)
            data = rng.randbytes(size) if i % 2 else bytes([i % 251]) * size
            info = tarfile.TarInfo(f"d{i % 7}/f{i:04d}")
            info.size, info.mtime = size, 1_700_000_000 + i
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _zstd_frames(tar: bytes) -> bytes:
    """Two zstd frames back to back, as parallel compressors write them."""
    half = len(tar) // 2
    level3 = zstandard.ZstdCompressor(level=3, write_checksum=True)
    return level3.compress(tar[:half]) + level3.compress(tar[half:])


def _inflate(kind: str, blob: bytes) -> bytes:
    if kind == "gzip":
        return gzip.decompress(blob)
    if kind == "plain":
        return blob
    reader = zstandard.ZstdDecompressor().stream_reader(blob, read_across_frames=True)
    return reader.read()


TAR = _layer_tar()
LAYERS = {
    "gzip": gzip.compress(TAR, compresslevel=6, mtime=0),
    "zstd": zstandard.ZstdCompressor(level=3, write_checksum=True).compress(TAR),
    "zstd-2-frames": _zstd_frames(TAR),
    "plain": TAR,
}


@pytest.mark.parametrize("kind", sorted(LAYERS))
@pytest.mark.parametrize("most", [1 << 20, 100_003, 4096])
def test_split_scan_matches_independent_digests(kind: str, most: int) -> None:
    blob = LAYERS[kind]
    truth = layer_truth(TAR)  # counted on the tar itself: the frames are checked below
    assert truth.uncompressed_size == len(TAR) > 4 << 20  # several chunks and pieces
    assert _inflate(kind, blob) == TAR
    results = [
        scan(Trickle(blob, most), layer=True, opts=ScanOptions(split=split))
        for split in (True, False)
    ]
    for result in results:
        assert str(result.digest) == sha256(blob)
        assert result.size == len(blob)
        assert str(result.diff_id) == truth.diff_id == sha256(TAR)
        assert result.uncompressed_size == len(TAR)
        assert result.tar is not None
        assert result.tar.files == truth.files == 120
        assert result.tar.file_bytes == truth.file_bytes
        assert result.tar.entries == truth.entries
        assert result.findings == ()
    assert results[0] == results[1]


def test_split_scan_of_a_corrupt_zstd_layer_keeps_its_stored_digest() -> None:
    """A bad byte in the middle: the stored digest is still that of the bytes read (it is
    computed on the other thread), and the layer is reported corrupt, on both paths."""
    blob = bytearray(LAYERS["zstd"])
    blob[len(blob) // 2] ^= 0xFF
    for split in (True, False):
        result = scan(io.BytesIO(bytes(blob)), layer=True, opts=ScanOptions(split=split))
        assert str(result.digest) == sha256(bytes(blob))
        assert result.size == len(blob)
        assert result.diff_id is None
        assert [f[0].value for f in result.findings] == ["corrupt_compression"]


# --- zstd layers read from a file: decoded by pulling into reused buffers, same verdicts ------

_SMALL_TAR = _layer_tar(files=12, most=40 << 10)
_GOOD = zstandard.ZstdCompressor(level=3, write_checksum=True).compress(_SMALL_TAR)


def _frame_with_window(data: bytes, window_log: int) -> bytes:
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=window_log)
    obj = zstandard.ZstdCompressor(compression_params=params).compressobj()
    return obj.compress(data) + obj.flush()


def _skippable(payload: bytes) -> bytes:
    return b"\x50\x2a\x4d\x18" + len(payload).to_bytes(4, "little") + payload


def _flip(data: bytes, at: int) -> bytes:
    out = bytearray(data)
    out[at] ^= 0x5A
    return bytes(out)


_HALF = len(_SMALL_TAR) // 2
# name -> (blob, the finding kinds every path must report)
ZSTD_CASES: dict[str, tuple[bytes, list[str]]] = {
    "whole": (_GOOD, []),
    "two frames": (_zstd_frames(_SMALL_TAR), []),
    "skippable frames around": (_skippable(b"meta") + _GOOD + _skippable(b""), []),
    "windowed frame": (_frame_with_window(_SMALL_TAR, 20), []),
    "empty frame then the tar": (
        zstandard.ZstdCompressor().compress(b"") + _GOOD,
        [],
    ),
    "truncated in a block": (_GOOD[: len(_GOOD) // 2], ["truncated"]),
    "truncated checksum": (_GOOD[:-2], ["truncated"]),
    "three trailing bytes": (_GOOD + b"abc", ["trailing_data"]),
    "trailing garbage": (_GOOD + b"garbage after the frame", ["trailing_data"]),
    "trailing zeros": (_GOOD + bytes(64), ["trailing_data"]),
    "bad checksum": (_flip(_GOOD, len(_GOOD) - 1), ["corrupt_compression"]),
    "bad block": (_flip(_GOOD, len(_GOOD) // 2), ["corrupt_compression"]),
    "window past the limit": (_frame_with_window(_SMALL_TAR, 28), ["limit_exceeded"]),
    "second window past the limit": (
        _frame_with_window(_SMALL_TAR[:_HALF], 20) + _frame_with_window(_SMALL_TAR[_HALF:], 28),
        ["limit_exceeded"],
    ),
    "not a tar": (zstandard.ZstdCompressor().compress(b"x" * 5000), ["not_a_tar"]),
}


@pytest.mark.parametrize("name", sorted(ZSTD_CASES))
def test_pulled_zstd_scan_gives_the_pushing_decoders_verdict(name: str) -> None:
    blob, kinds = ZSTD_CASES[name]
    from_file = scan(io.BytesIO(blob), layer=True, opts=ScanOptions(split=True))
    pushed = scan(Trickle(blob, 1 << 18), layer=True, opts=ScanOptions(split=True))
    one_thread = scan(io.BytesIO(blob), layer=True, opts=ScanOptions(split=False))
    assert [f[0].value for f in from_file.findings] == kinds
    assert from_file == pushed == one_thread
    assert str(from_file.digest) == sha256(blob)
    assert from_file.size == len(blob)
    if not kinds:
        assert str(from_file.diff_id) == sha256(_SMALL_TAR)
        assert from_file.uncompressed_size == len(_SMALL_TAR)


def test_pulled_zstd_scan_stops_at_the_size_limit() -> None:
    opts = ScanOptions(split=True, max_uncompressed=len(_SMALL_TAR) - 1)
    from_file = scan(io.BytesIO(_GOOD), layer=True, opts=opts)
    pushed = scan(Trickle(_GOOD, 1 << 18), layer=True, opts=opts)
    assert [f[0].value for f in from_file.findings] == ["limit_exceeded"]
    assert from_file == pushed
    assert str(from_file.digest) == sha256(_GOOD)


def test_a_whole_zstd_layer_from_a_file_needs_no_pushing_decoder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The point of the pulled path: a sound layer in a file is decoded into reused buffers
    (the pushing Decoder allocates and joins a new piece per call)."""
    from ocianalyze import walker

    def refuse(*_: object) -> None:
        raise AssertionError("the pushing decoder was used")

    monkeypatch.setattr(walker, "Decoder", refuse)
    result = scan(io.BytesIO(LAYERS["zstd"]), layer=True, opts=ScanOptions(split=True))
    assert str(result.diff_id) == sha256(TAR)
    assert result.tar is not None and result.tar.files == 120


ZSTD_MEDIA = "application/vnd.oci.image.layer.v1.tar+zstd"


@pytest.mark.parametrize(
    ("name", "exit_code"), [("whole", 0), ("truncated in a block", 1), ("trailing garbage", 1)]
)
def test_verify_reads_a_zstd_layout_to_the_same_problems(
    tmp_path: Path, name: str, exit_code: int
) -> None:
    """Through the command line (whose reader counts progress and may rewind): one layer, so
    it is split over two threads and pulled; a broken one is read again and named."""
    blob, kinds = ZSTD_CASES[name]
    build_layout(tmp_path, [blob], diff_ids=[sha256(_SMALL_TAR)], media_type=ZSTD_MEDIA)
    run = run_cli("verify", "--format", "json", "--jobs", "2", str(tmp_path))
    assert run.code == exit_code, run.err
    doc = run.json()
    found = sorted({p["kind"] for p in doc["problems"] if p["severity"] == "error"})
    assert found == sorted(kinds)


def test_many_split_zstd_layers_at_once_share_the_budget_and_finish() -> None:
    """Six layers scanned at once, each on two threads, some pulled and some pushed, all
    taking from the one process-wide budget: none waits forever, each finds its own digests."""
    blobs = [_zstd_frames(_layer_tar(files=20 + i, most=200 << 10)) for i in range(6)]
    results: dict[int, object] = {}

    def work(i: int) -> None:
        results[i] = scan(io.BytesIO(blobs[i]), layer=True, opts=ScanOptions(split=True))

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)  # generous: a deadlock, not a slow machine, would pass it
    assert sorted(results) == list(range(6))
    for i, blob in enumerate(blobs):
        result = results[i]
        assert isinstance(result, BlobScan)
        assert str(result.digest) == sha256(blob)
        assert str(result.diff_id) == sha256(_layer_tar(files=20 + i, most=200 << 10))
        assert result.findings == ()
