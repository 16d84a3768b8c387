"""A file rewritten with the same size (container-diff#339) is found in a layer of every
compression, by the C header loop and by the Python walker, on one thread or two: the content
digests are hashlib's over the bytes, and nothing else is reported changed."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile

import pytest

from ocianalyze import tarwalk
from ocianalyze.diff.files import compare_files
from ocianalyze.entries import EntryTable
from ocianalyze.walker import ScanOptions, scan

from . import exports as ex

BIG = bytes(i * 7 % 251 for i in range(300_000))
OLD = {"app/one": b"A" * 1000, "app/big": BIG, "app/small": b"12345", "app/same": b"same"}
NEW = {
    "app/one": b"A" * 999 + b"B",  # the last byte
    "app/big": BIG[:150_000] + bytes([BIG[150_000] ^ 1]) + BIG[150_001:],  # one bit, mid-file
    "app/small": b"12346",
    "app/same": b"same",
}
ENCODE = {
    "gzip": lambda t: gzip.compress(t, 6, mtime=0),
    "zstd": ex.zstd,
    "none": lambda t: t,
}


def table(files: dict[str, bytes], encode: str, split: bool) -> EntryTable:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), ex.MTIME
            tf.addfile(info, io.BytesIO(data))
    blob = ENCODE[encode](buf.getvalue())
    opts = ScanOptions(collect_entries=True, hash_files=True, split=split)
    result = scan(io.BytesIO(blob), layer=True, opts=opts)
    assert result.entries is not None
    return result.entries


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("walker", ["c", "python"])
@pytest.mark.parametrize("encode", sorted(ENCODE))
def test_same_size_changes_in_every_compression(
    encode: str, walker: str, split: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if walker == "python":
        monkeypatch.setattr(tarwalk, "_scan", None)
    elif not tarwalk.ACCELERATED:
        pytest.skip("the C header loop is not built here")
    diff = compare_files([table(OLD, encode, split)], [table(NEW, encode, split)])
    got = {c.path: (c.change.value, [a.value for a in c.what]) for c in diff.changes}
    assert got == {p: ("changed", ["content"]) for p in ("app/big", "app/one", "app/small")}
    assert diff.unchanged == 1
    for c in diff.changes:
        assert c.old is not None and c.new is not None
        assert c.old.sha256 == hashlib.sha256(OLD[c.path]).hexdigest()
        assert c.new.sha256 == hashlib.sha256(NEW[c.path]).hexdigest()
        assert c.old.size == c.new.size == len(NEW[c.path])
