"""``diff --have -``: what the site holds, from standard input, as a digest list or an export.

The README lets ``-`` be one of OLD, NEW and ``--have``; a list piped in (``ssh site cat
imported.txt | ocianalyze diff --have - OLD NEW``) was read as an export and refused. The
expected deltas are computed here from the blobs written (hashlib, len).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from . import exports as ex
from .conftest import run_cli

BASE = ex.layer_tar({"base": b"base file\n"})


def side(root: Path, version: int) -> ex.Written:
    image = ex.Image([BASE, ex.layer_tar({"app": b"version %d\n" % version})], tag="app:1")
    written = ex.oci([image])
    ex.to_dir(written, root)
    return written


def blobs(written: ex.Written) -> dict[str, int]:
    """Every blob by digest and its size (the layout's blobs: what a registry holds)."""
    return {
        "sha256:" + name.rsplit("/", 1)[1]: len(data)
        for name, data in written.files.items()
        if name.startswith("blobs/")
    }


def delta(old: Path, new: Path, stdin: bytes) -> tuple[int, dict[str, int], str]:
    run = run_cli("diff", "-q", "--format", "json", "--have", "-", str(old), str(new), stdin=stdin)
    d = json.loads(run.out)["delta"] if run.out else {}
    return run.code, d, run.err


def test_a_digest_list_on_stdin(tmp_path: Path) -> None:
    old_w, new_w = side(tmp_path / "old", 1), side(tmp_path / "new", 2)
    news, olds = blobs(new_w), blobs(old_w)
    # the site also holds NEW's largest blob OLD lacks, listed as `ls blobs/sha256` prints it
    extra = max((d for d in news if d not in olds), key=lambda d: (news[d], d))
    code, d, err = delta(tmp_path / "old", tmp_path / "new", extra.split(":")[1].encode() + b"\n")
    assert code == 1, err
    missing = {k: v for k, v in news.items() if k not in olds and k != extra}
    assert d["missing_bytes"] == sum(missing.values())
    assert sorted(m["digest"] for m in d["missing"]) == sorted(missing)
    assert d["held"] == len(olds) + 1


def test_an_export_on_stdin_counts_as_a_file_does(tmp_path: Path) -> None:
    side(tmp_path / "old", 1)
    new_w = side(tmp_path / "new", 2)
    code, d, err = delta(tmp_path / "old", tmp_path / "new", ex.to_tar(new_w))
    assert (code, d["missing_bytes"], d["missing"]) == (1, 0, []), err


def test_an_empty_stdin_is_an_empty_list(tmp_path: Path) -> None:
    old_w, new_w = side(tmp_path / "old", 1), side(tmp_path / "new", 2)
    code, d, err = delta(tmp_path / "old", tmp_path / "new", b"")
    olds = blobs(old_w)
    assert code == 1, err
    assert d["missing_bytes"] == sum(v for k, v in blobs(new_w).items() if k not in olds)


def test_a_bad_line_on_stdin_is_named(tmp_path: Path) -> None:
    side(tmp_path / "old", 1), side(tmp_path / "new", 2)
    good = hashlib.sha256(b"x").hexdigest()
    code, _, err = delta(tmp_path / "old", tmp_path / "new", f"{good}\nnot one\n".encode())
    assert (code, err) == (2, "ocianalyze: -: line 2: not a digest\n")


def test_a_closed_stdin_is_unreadable_not_a_bug(tmp_path: Path) -> None:
    """As for OLD or NEW given as ``-`` (cli._usable_path): exit 2, one line."""
    import subprocess
    import sys

    side(tmp_path / "old", 1), side(tmp_path / "new", 2)
    argv = [sys.executable, "-m", "ocianalyze", "diff", "-q", "--have", "-", "old", "new"]
    proc = subprocess.run(
        argv, cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, timeout=120,
        preexec_fn=lambda: __import__("os").close(0), check=False,
    )  # fmt: skip
    assert (proc.returncode, proc.stderr) == (
        2,
        b"ocianalyze: -: standard input is closed (Bad file descriptor)\n",
    )
