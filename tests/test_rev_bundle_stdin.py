"""Standard input among many exports: read once, on this machine, in its place in the table;
given twice, one line and exit 2 before anything is read (the second would get nothing)."""

from __future__ import annotations

from pathlib import Path

from .conftest import run_cli
from .exports import Image, layer_tar, oci, to_dir, to_tar

TAR = layer_tar({"hello": b"hello\n"})


def test_stdin_among_many_is_read_in_its_place(tmp_path: Path) -> None:
    layout = to_dir(oci([Image([TAR])]), tmp_path / "layout")
    data = to_tar(oci([Image([layer_tar({"other": b"x"})])]))
    run = run_cli("verify", "--format", "json", str(layout), "-", stdin=data)
    assert run.code == 0, run.err
    rows = run.json()["summary"]["rows"]
    assert [(r["path"], r["verdict"], r["images"]) for r in rows] == [
        (str(layout), "ok", 1),
        ("-", "ok", 1),
    ]
    alone = run_cli("verify", "--format", "json", "-", stdin=data)
    assert run.json()["exports"][1] == alone.json()


def test_stdin_twice_is_refused(tmp_path: Path) -> None:
    layout = to_dir(oci([Image([TAR])]), tmp_path / "layout")
    data = to_tar(oci([Image([TAR])]))
    run = run_cli("verify", "-", str(layout), "-", stdin=data)
    assert (run.code, run.out) == (2, "")
    assert run.err == "ocianalyze: -: given more than once: standard input is read once\n"
