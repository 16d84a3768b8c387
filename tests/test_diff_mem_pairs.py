"""diff's memory is bounded by one pair of images, not by every image of both exports.

Two OCI layouts (standard library only, tests/exports.py), K platforms each: every image has
the side's base layer (shared by all its images) and a layer of its own of N files; NEW rewrites
one file of each platform's own layer with the same size and adds a platform OLD lacks. The diff
runs in-process while every entry table the walker makes is counted (a subclass registered in a
weak set): at its peak, the tables alive are the pair's (its own layers and the two shared
bases), never K pairs' worth; the added platform's layer is verified without a table. Nothing
is timed.
"""

from __future__ import annotations

import gc
import json
import weakref
from pathlib import Path
from typing import Any

import pytest

from ocianalyze import cli, walker
from ocianalyze.entries import EntryTable

from . import exports as ex
from .conftest import run_cli

K = 4  # platforms per side (paired)
N = 40  # files in each platform's own layer
BASE_FILES = 10
ARCHES = ("amd64", "arm64", "ppc64le", "s390x", "riscv64")


def own_files(arch: str, new: bool) -> dict[str, bytes]:
    files = {f"{arch}-{i:04d}": f"{arch} file {i:04d}\n".encode() for i in range(N)}
    if new:  # the same size, other bytes: found by content only
        files[f"{arch}-0007"] = f"{arch} FILE 0007\n".encode()
    return files


def base() -> bytes:
    """The same on both sides, but each side reads its own copy (one table each)."""
    return ex.layer_tar({f"base-{i:02d}": f"base {i:02d}\n".encode() for i in range(BASE_FILES)})


def write(root: Path, new: bool) -> Path:
    arches = ARCHES[: K + 1] if new else ARCHES[:K]  # NEW adds a platform
    images = [
        ex.Image([base(), ex.layer_tar(own_files(a, new))], tag="app:1", arch=a) for a in arches
    ]
    return ex.to_dir(ex.oci(images), root / ("new" if new else "old"))


class Census:
    """Every entry table made, and the most alive at once."""

    def __init__(self) -> None:
        self.alive: weakref.WeakSet[EntryTable] = weakref.WeakSet()
        self.made = 0
        self.peak = 0

    def table_class(self) -> type[EntryTable]:
        census = self

        class Counted(EntryTable):  # no __slots__: instances take weak references
            def __init__(self, hashes: bool = False) -> None:
                super().__init__(hashes)
                census.alive.add(self)
                census.made += 1
                census.peak = max(census.peak, len(census.alive))

        return Counted


def run_diff(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, Any, Census]:
    census = Census()
    monkeypatch.setattr(walker, "EntryTable", census.table_class())
    gc.collect()
    gc.disable()  # a table must be freed when its last user lets go, not by the collector
    try:
        code = cli._run(["diff", "--quiet", "--format", "json", *args])
    finally:
        gc.enable()
    return code, json.loads(capsys.readouterr().out), census


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_peak_tables_are_one_pairs(
    jobs: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    old, new = write(tmp_path, False), write(tmp_path, True)
    code, out, census = run_diff(monkeypatch, capsys, "--jobs", jobs, str(old), str(new))
    assert code == 1
    # Every pair was compared file by file (the shared bases were kept until the last pair).
    assert [(i["old"]["platform"], i["new"]["platform"]) for i in out["images"]] == [
        (f"linux/{a}", f"linux/{a}") for a in ARCHES[:K]
    ]
    for image, arch in zip(out["images"], ARCHES, strict=False):
        files = image["files"]
        assert files is not None, image["files_note"]
        changes = [(c["path"], c["change"], c["what"]) for c in files["changes"]]
        assert changes == [(f"{arch}-0007", "changed", ["content"])]
        assert files["unchanged"] == BASE_FILES + N - 1
    assert [a["platform"] for a in out["added"]] == [f"linux/{ARCHES[K]}"]
    # One table per layer of a pair: K own + 1 base on each side; none for the added image's.
    assert census.made == 2 * (K + 1)
    # At the peak: the pair's own two layers and the two bases, not 2 * (K + 1).
    assert census.peak == 4
    assert len(census.alive) == 0  # nothing kept once the diff is made


def test_an_unpaired_layer_is_still_verified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The added platform's layer is read without a table, but read: a wrong diff_id in its
    config is found (exit 1, the problem on stderr), as verify finds it."""
    old = write(tmp_path, False)
    images = [
        ex.Image([base(), ex.layer_tar(own_files(a, True))], tag="app:1", arch=a)
        for a in ARCHES[: K + 1]
    ]
    wrong = "sha256:" + "0" * 64
    images[K].diff_ids = [ex.sha(images[K].tars[0]), wrong]
    new = ex.to_dir(ex.oci(images), tmp_path / "new")
    census = Census()
    monkeypatch.setattr(walker, "EntryTable", census.table_class())
    code = cli._run(["diff", "--quiet", str(old), str(new)])
    captured = capsys.readouterr()
    assert code == 1
    assert "diff_id" in captured.err, captured.err
    assert census.made == 2 * (K + 1)


def test_a_stream_side_gives_the_same_diff(tmp_path: Path) -> None:
    """NEW read from standard input, a tarball compressed whole (scanned as it passes, before
    any pairing is known), gives the diff NEW's directory gives: only its path and format
    differ."""
    old = write(tmp_path, False)
    new = write(tmp_path, True)
    files = {str(p.relative_to(new)): p.read_bytes() for p in new.rglob("*") if p.is_file()}
    stream = ex.gz(ex.to_tar(ex.Written(files=files)))
    by_dir = run_cli("diff", "--format", "json", str(old), str(new))
    by_stream = run_cli("diff", "--format", "json", str(old), "-", stdin=stream)
    assert (by_dir.code, by_stream.code) == (1, 1), by_stream.err
    a, b = by_dir.json(), by_stream.json()
    assert b["new"]["path"] == "-"
    a.pop("new"), b.pop("new")
    assert a == b
    assert len(a["images"]) == K
