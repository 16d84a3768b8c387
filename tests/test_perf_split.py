"""A layer scanned on two threads (``split``: inflate on the reading thread; hash the stored
bytes, hash the tar and walk it on the other) finds exactly what one thread finds, and what the
standard library and zstandard compute from the same bytes: chunks handed between the threads
keep their order whatever the read sizes, the compression and the number of frames."""

from __future__ import annotations

import gzip
import io
import random
import tarfile

import pytest
import zstandard

from ocianalyze.walker import ScanOptions, scan

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


class _Reads:
    """A stream returning at most ``most`` bytes per read, as a pipe may."""

    def __init__(self, data: bytes, most: int) -> None:
        self._data, self._pos, self._most = data, 0, most

    def read(self, n: int = -1) -> bytes:
        n = self._most if n < 0 else min(n, self._most)
        piece = self._data[self._pos : self._pos + n]
        self._pos += len(piece)
        return piece


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
        scan(_Reads(blob, most), layer=True, opts=ScanOptions(split=split))
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
