"""diff's text names what a changed link or owner became, as it does for a mode.

A line said ``~ l  (link; 0 B)``: the reader had to go to the JSON to learn the target. The
targets are escaped and fitted, so the line stays within 100 columns.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from . import exports as ex
from .conftest import run_cli


def tar(members: list[tuple[str, bytes | str, int]]) -> bytes:
    """(name, file bytes or a symlink target, uid) each."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, body, uid in members:
            info = tarfile.TarInfo(name)
            info.uid, info.gid, info.mode = uid, uid, 0o644
            if isinstance(body, str):
                info.type, info.linkname = tarfile.SYMTYPE, body
                tf.addfile(info)
            else:
                info.size = len(body)
                tf.addfile(info, io.BytesIO(body))
    return buf.getvalue()


def lines(tmp_path: Path, old: bytes, new: bytes) -> list[str]:
    for name, layer in (("old", old), ("new", new)):
        ex.to_dir(ex.oci([ex.Image([layer], tag="app:1")]), tmp_path / name)
    run = run_cli("diff", "-q", str(tmp_path / "old"), str(tmp_path / "new"))
    assert run.code == 1, run.err
    return run.out.splitlines()


def test_a_link_target_and_an_owner_are_shown(tmp_path: Path) -> None:
    out = lines(
        tmp_path,
        tar([("f", b"data", 0), ("l", "f", 0)]),
        tar([("f", b"data", 1000), ("l", "g", 0)]),
    )
    assert "    ~ f  (owner; 4 B; owner 0:0 -> 1000:1000)" in out
    assert "    ~ l  (link; 0 B; link f -> g)" in out


def test_a_long_hostile_target_is_escaped_and_fitted(tmp_path: Path) -> None:
    target = "\x1b[2J" + "d/" * 100 + "end"
    out = lines(tmp_path, tar([("l", "f", 0)]), tar([("l", target, 0)]))
    [line] = [x for x in out if x.startswith("    ~ l  (link; 0 B; link f -> ")]
    assert len(line) <= 100 and "\x1b" not in line
    assert line.endswith("d/end)") and "\\033[2J" in line
