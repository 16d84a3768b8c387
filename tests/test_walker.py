"""The streaming walker against archives built here with tarfile/gzip/zstandard."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import random
import tarfile
import threading
import zlib

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from ocianalyze.errors import Kind
from ocianalyze.mediatypes import Compression
from ocianalyze.walker import ScanOptions, scan

from .independent import layer_truth


def make_tar(
    entries: list[tuple[str, bytes | str | None]],
    fmt: int = tarfile.PAX_FORMAT,
) -> bytes:
    """Entries: (name, bytes) a file, (name, None) a directory, (name, "->target") a symlink,
    (name, "=>target") a hardlink."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for name, content in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000 + len(name)
            if content is None:
                info.type = tarfile.DIRTYPE
                tf.addfile(info)
            elif isinstance(content, str):
                info.type = tarfile.SYMTYPE if content.startswith("->") else tarfile.LNKTYPE
                info.linkname = content[2:]
                tf.addfile(info)
            else:
                info.size = len(content)
                tf.addfile(info, io.BytesIO(content))
    return buf.getvalue()


LONG = "d/" + "x" * 120 + "/" + "y" * 120
ENTRIES: list[tuple[str, bytes | str | None]] = [
    ("etc", None),
    ("etc/motd", b"hello\n"),
    ("etc/empty", b""),
    ("big", os.urandom(70_000)),
    (LONG, b"long name"),
    ("link", "->etc/motd"),
    ("hard", "=>big"),
    ("etc/.wh.gone", b""),
    ("var/.wh..wh..opq", b""),
    ("exact", b"x" * 4096),
    ("ünïcode", b"u"),
]


def compressors() -> dict[str, object]:
    return {
        "none": lambda b: b,
        "gzip": lambda b: gzip.compress(b, mtime=0),
        "zstd": lambda b: zstandard.ZstdCompressor().compress(b),
    }


@pytest.mark.parametrize(
    "fmt",
    [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT],
    ids=["pax", "gnu", "ustar"],
)
@pytest.mark.parametrize("comp", ["none", "gzip", "zstd"])
@pytest.mark.parametrize("split", [False, True], ids=["one-thread", "two-threads"])
def test_counts_and_digests_match_tarfile(fmt: int, comp: str, split: bool) -> None:
    entries = ENTRIES if fmt != tarfile.USTAR_FORMAT else [e for e in ENTRIES if e[0] != LONG]
    raw = make_tar(entries, fmt)
    stored = compressors()[comp](raw)  # type: ignore[operator]
    truth = layer_truth(stored)
    result = scan(io.BytesIO(stored), layer=True, opts=ScanOptions(split=split))
    assert result.findings == ()
    assert result.compression is Compression(comp)
    assert str(result.digest) == truth.digest and result.size == len(stored)
    assert str(result.diff_id) == truth.diff_id
    assert result.uncompressed_size == len(raw)
    tar = result.tar
    assert tar is not None
    assert (tar.files, tar.file_bytes, tar.disk_bytes) == (
        truth.files,
        truth.file_bytes,
        truth.disk_bytes,
    )
    assert (tar.whiteouts, tar.opaque_whiteouts, tar.symlinks, tar.hardlinks, tar.dirs) == (
        1,
        1,
        1,
        1,
        1,
    )
    assert tar.entries == len(entries)
    assert tar.newest_mtime == 1_700_000_000 + max(len(n) for n, _ in entries)


def test_entries_seen_by_visitor_have_full_names() -> None:
    seen = []
    scan(io.BytesIO(make_tar(ENTRIES)), layer=True, opts=ScanOptions(on_entry=seen.append))
    assert [e.name for e in seen] == [n for n, _ in ENTRIES]
    assert next(e for e in seen if e.name == "link").linkname == "etc/motd"


def _kinds(data: bytes, **kw: object) -> set[Kind]:
    return {k for k, *_ in scan(io.BytesIO(data), layer=True, **kw).findings}  # type: ignore[arg-type]


def test_stream_faults() -> None:
    raw = make_tar(ENTRIES)
    gz = gzip.compress(raw)
    zs = zstandard.ZstdCompressor().compress(raw)
    assert _kinds(gz[:-20]) == {Kind.TRUNCATED}
    assert _kinds(zs[:-20]) == {Kind.TRUNCATED}
    assert _kinds(gz + b"junk") == {Kind.TRAILING_DATA}
    assert _kinds(zs + b"junk") == {Kind.TRAILING_DATA}
    bad = bytearray(gz)
    bad[len(bad) // 2 : len(bad) // 2 + 8] = b"\xff" * 8
    assert _kinds(bytes(bad)) <= {Kind.CORRUPT_COMPRESSION, Kind.TRUNCATED}
    assert _kinds(bytes(bad))
    assert _kinds(b"plain text, not a tar" * 100) == {Kind.NOT_A_TAR}
    assert _kinds(gzip.compress(b"\x01" * 2048)) == {Kind.NOT_A_TAR}
    assert _kinds(raw[:1000]) == {Kind.TRUNCATED}


def test_multi_member_gzip_and_multi_frame_zstd_are_one_stream() -> None:
    raw = make_tar(ENTRIES)
    half = len(raw) // 2
    for data in (
        gzip.compress(raw[:half]) + gzip.compress(raw[half:]),
        zstandard.ZstdCompressor().compress(raw[:half])
        + zstandard.ZstdCompressor().compress(raw[half:]),
    ):
        result = scan(io.BytesIO(data), layer=True)
        assert result.findings == ()
        assert result.diff_id is not None
        assert result.diff_id.encoded == hashlib.sha256(raw).hexdigest()


def test_missing_end_of_archive_is_only_a_warning() -> None:
    raw = make_tar(ENTRIES)
    end = raw.rstrip(b"\0")
    body = end + b"\0" * (-len(end) % 512)  # cut at the entry boundary, as umoci writes
    result = scan(io.BytesIO(gzip.compress(body)), layer=True)
    assert {k for k, *_ in result.findings} == {Kind.MISSING_END_OF_ARCHIVE}
    assert result.tar is not None and result.tar.files == layer_truth(raw).files


def test_limit_stops_a_bomb_with_a_problem() -> None:
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = comp.compress(b"\0" * (64 << 20)) + comp.flush()
    result = scan(io.BytesIO(bomb), layer=True, opts=ScanOptions(max_uncompressed=1 << 20))
    assert {k for k, *_ in result.findings} == {Kind.LIMIT_EXCEEDED}
    assert result.size == len(bomb)  # the stored bytes were still hashed to the end
    assert result.digest.encoded == hashlib.sha256(bomb).hexdigest()


def test_hash_only_blobs_are_not_walked() -> None:
    data = b'{"config": true}'
    result = scan(io.BytesIO(data), layer=False)
    assert result.tar is None and result.diff_id is None and result.findings == ()
    assert result.digest.encoded == hashlib.sha256(data).hexdigest()


def test_sha512_blobs() -> None:
    data = gzip.compress(make_tar(ENTRIES))
    result = scan(io.BytesIO(data), "sha512", layer=True)
    assert result.digest.encoded == hashlib.sha512(data).hexdigest()


@pytest.mark.parametrize("split", [False, True], ids=["one-thread", "two-threads"])
def test_uncompressed_layer_diff_id_is_sha256_whatever_the_digest(split: bool) -> None:
    """An uncompressed sha256 blob is hashed once for both digests; a sha512 one is not."""
    tar = make_tar(ENTRIES)
    for algorithm in ("sha256", "sha512"):
        result = scan(io.BytesIO(tar), algorithm, layer=True, opts=ScanOptions(split=split))
        assert result.digest.encoded == hashlib.new(algorithm, tar).hexdigest()
        assert str(result.diff_id) == "sha256:" + hashlib.sha256(tar).hexdigest()


names = st.text(alphabet="abcdefghij/._-", min_size=1, max_size=140).filter(
    # safe names only: unsafe ones ('..', '/x') are findings, tested in test_hostile
    lambda n: (
        not n.startswith("/") and "//" not in n and n.strip("./") != "" and ".." not in n.split("/")
    )
)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    files=st.lists(
        st.tuples(names, st.binary(max_size=3000)), max_size=12, unique_by=lambda t: t[0]
    ),
    comp=st.sampled_from(["none", "gzip", "zstd"]),
    chunk=st.integers(min_value=1, max_value=70_000),
)
def test_property_any_tar_any_chunking(
    files: list[tuple[str, bytes]], comp: str, chunk: int
) -> None:
    entries = [(n.rstrip("/") or "f", c) for n, c in files]
    entries = list({n: (n, c) for n, c in entries}.values())
    raw = make_tar(entries)  # type: ignore[arg-type]
    stored = compressors()[comp](raw)  # type: ignore[operator]

    class Dribble(io.BytesIO):
        def read(self, n: int = -1) -> bytes:  # short reads of a random size
            return super().read(min(n, chunk) if n >= 0 else chunk)

    result = scan(Dribble(stored), layer=True)
    truth = layer_truth(stored)
    assert result.findings == ()
    assert str(result.diff_id) == truth.diff_id
    assert result.tar is not None
    assert (result.tar.files, result.tar.file_bytes) == (truth.files, truth.file_bytes)


def test_random_garbage_never_raises() -> None:
    rng = random.Random(7)
    for _ in range(200):
        data = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 3000)))
        for prefix in (b"", b"\x1f\x8b\x08\x00", b"\x28\xb5\x2f\xfd"):
            scan(io.BytesIO(prefix + data), layer=None)


def test_unpadded_last_entry_is_a_missing_end_not_a_truncation() -> None:
    raw = make_tar([("a", b"x" * 700), ("hello.txt", b"hello\n")], tarfile.USTAR_FORMAT)
    unpadded = raw[: 512 + 1024 + 512 + 6]  # umoci insert stops right after the data
    result = scan(io.BytesIO(unpadded), layer=True)
    assert {k for k, *_ in result.findings} == {Kind.MISSING_END_OF_ARCHIVE}
    assert result.tar is not None and (result.tar.files, result.tar.file_bytes) == (2, 706)
    short = scan(io.BytesIO(raw[: 512 + 1024 + 512 + 5]), layer=True)
    assert {k for k, *_ in short.findings} == {Kind.TRUNCATED}


def test_a_failure_on_the_second_thread_reaches_the_caller_without_a_hang() -> None:
    """The walking thread stops on a bug; the reading thread must neither block on the full
    queue nor finish as if nothing happened."""
    big = make_tar([(f"f{i}", os.urandom(1 << 20)) for i in range(24)])  # > the queue's 8 MiB

    def boom(entry: object) -> None:
        raise RuntimeError("visitor failed")

    outcome: list[BaseException] = []

    def run() -> None:
        try:
            scan(io.BytesIO(big), layer=True, opts=ScanOptions(split=True, on_entry=boom))
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "scan hung after its second thread failed"
    assert [type(e) for e in outcome] == [RuntimeError]
