"""The per-file content hash (ScanOptions.hash_files): each regular file's sha256, computed as
the tar passes, equals hashlib over the bytes tarfile extracts; the listing and the counts are
those of the C header loop; without the flag nothing changes."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from ocianalyze.entries import EntryTable
from ocianalyze.merge import merged_view
from ocianalyze.tarwalk import ACCELERATED, TarWalker
from ocianalyze.walker import ScanOptions, scan

from .conftest import SAMPLES


class Chunks(io.RawIOBase):
    """A stream that returns short reads of odd sizes, so files straddle chunk edges."""

    def __init__(self, data: bytes, step: int = 1531) -> None:
        self.data, self.pos, self.step = data, 0, step

    def read(self, n: int = -1) -> bytes:
        out = self.data[self.pos : self.pos + min(n if n >= 0 else 1 << 30, self.step)]
        self.pos += len(out)
        return out


def expected(tar: bytes) -> dict[str, str]:
    """name -> sha256 hex of every regular file, as tarfile extracts it (the last copy)."""
    out = {}
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        for m in tf:
            if m.isreg() and not m.issparse():
                f = tf.extractfile(m)
                assert f is not None
                out[m.name.removeprefix("./")] = hashlib.sha256(f.read()).hexdigest()
    return out


def hashed(table: EntryTable) -> dict[str, str]:
    out = {}
    for i in range(len(table)):
        digest = table.content_hash(i)
        if digest is not None:
            out[table.name(i)] = digest.hex()
    return out


def mixed_tar(fmt: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        files = {
            "empty": b"",
            "one": b"1",
            "block": b"b" * 512,
            "big": bytes(range(256)) * 4000,
            "d/" + "long" * 40: b"a file with a long name",
        }
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, kind in (("d", tarfile.DIRTYPE), ("link", tarfile.SYMTYPE)):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, "one" if kind == tarfile.SYMTYPE else ""
            tf.addfile(info)
        hard = tarfile.TarInfo("hard")
        hard.type, hard.linkname = tarfile.LNKTYPE, "big"
        tf.addfile(hard)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT])
@pytest.mark.parametrize("step", [1, 511, 1531, 1 << 20])
def test_hashes_equal_hashlib_whatever_the_chunking(fmt: int, step: int) -> None:
    tar = mixed_tar(fmt)
    opts = ScanOptions(collect_entries=True, hash_files=True)
    result = scan(Chunks(gzip.compress(tar), step), opts=opts)
    assert result.entries is not None
    assert hashed(result.entries) == expected(tar)
    assert result.entries.content_hash(result.entries.names().index("hard")) is None


def test_listing_and_counts_are_those_of_the_c_loop() -> None:
    tar = mixed_tar(tarfile.PAX_FORMAT)
    plain = scan(Chunks(tar), opts=ScanOptions(collect_entries=True))
    with_hashes = scan(Chunks(tar), opts=ScanOptions(collect_entries=True, hash_files=True))
    assert plain.entries is not None and with_hashes.entries is not None
    assert plain.tar == with_hashes.tar and plain.diff_id == with_hashes.diff_id
    n = len(plain.entries)
    assert [plain.entries.entry(i) for i in range(n)] == [
        with_hashes.entries.entry(i) for i in range(len(with_hashes.entries))
    ]
    assert hashed(plain.entries) == {}  # off unless asked: no digest column at all


@pytest.mark.parametrize("step", [1, 700, 1 << 20])
def test_the_c_loop_and_the_python_walker_hash_alike(step: int) -> None:
    """With the C loop, hashing stops it after each file header with data; without it, the
    Python walker reads every header: the same entries and digests either way."""
    tar = mixed_tar(tarfile.PAX_FORMAT)
    found = []
    for accelerated in (True, False):
        table = EntryTable(hashes=True)
        walker = TarWalker(table.add_all, accelerated=accelerated, on_file_hash=table.set_hash)
        for at in range(0, len(tar), step):
            walker.feed(tar[at : at + step])
        walker.finish()
        found.append((table.names(), hashed(table), walker.stats))
    assert found[0] == found[1]
    assert found[0][1] == expected(tar)
    if ACCELERATED:  # the stop is asked for only when hashing
        assert TarWalker(None)._batch is None


def test_a_sparse_file_has_no_content_hash() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        info = tarfile.TarInfo("sparse")
        info.type, info.size = tarfile.GNUTYPE_SPARSE, 0
        info.sparse = []  # type: ignore[attr-defined]
        tf.addfile(info)
        plain = tarfile.TarInfo("plain")
        plain.size = 3
        tf.addfile(plain, io.BytesIO(b"abc"))
    result = scan(Chunks(buf.getvalue()), opts=ScanOptions(collect_entries=True, hash_files=True))
    assert result.entries is not None
    assert hashed(result.entries) == {"plain": hashlib.sha256(b"abc").hexdigest()}


def test_a_hardlink_left_alone_carries_its_inodes_hash() -> None:
    """Layer 2 whites out the link's target: the link is listed as the file, with its hash."""
    base = io.BytesIO()
    with tarfile.open(fileobj=base, mode="w", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo("target")
        info.size = 5
        tf.addfile(info, io.BytesIO(b"hello"))
        link = tarfile.TarInfo("alias")
        link.type, link.linkname = tarfile.LNKTYPE, "target"
        tf.addfile(link)
    upper = io.BytesIO()
    with tarfile.open(fileobj=upper, mode="w", format=tarfile.PAX_FORMAT) as tf:
        tf.addfile(tarfile.TarInfo(".wh.target"))
    opts = ScanOptions(collect_entries=True, hash_files=True)
    tables = [scan(Chunks(t.getvalue()), opts=opts).entries for t in (base, upper)]
    view = list(merged_view(tables))  # type: ignore[arg-type]
    assert [(e.name, e.type, d) for e, d in view] == [
        ("alias", "file", hashlib.sha256(b"hello").digest())
    ]


def sample_layers() -> list[Path]:
    return sorted(
        p
        for p in (SAMPLES / "oci-layout" / "blobs" / "sha256").iterdir()
        if p.read_bytes()[:2] == b"\x1f\x8b"
    )


def test_every_sample_layer() -> None:
    layers = sample_layers()
    assert layers
    for path in layers:
        data = path.read_bytes()
        result = scan(Chunks(data, 4099), opts=ScanOptions(collect_entries=True, hash_files=True))
        assert result.entries is not None
        assert hashed(result.entries) == expected(gzip.decompress(data))
