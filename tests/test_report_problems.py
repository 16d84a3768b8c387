"""What only the merged view can show reaches the report's problems and its verdict."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from .conftest import run_cli
from .test_one_verdict import image_manifest, layout


def _dangling_hardlink_layer() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        link = tarfile.TarInfo("usr/bin/tool")
        link.type, link.linkname = tarfile.LNKTYPE, "usr/bin/nowhere"
        tf.addfile(link)
        data = tarfile.TarInfo("etc/motd")
        data.size = 5
        tf.addfile(data, io.BytesIO(b"hello"))
    return buf.getvalue()


def test_a_hardlink_to_nothing_is_a_report_warning(tmp_path: Path) -> None:
    root = tmp_path / "l"
    layout(root, [image_manifest(root, [_dangling_hardlink_layer()])])
    run = run_cli("report", "--format", "json", str(root))
    assert run.code == 0
    problems = run.json()["problems"]
    assert [(p["kind"], p["severity"]) for p in problems] == [("bad_hardlink", "warning")]
    assert "usr/bin/tool" in problems[0]["message"]
    assert run.json()["images"][0]["waste"]["merged_files"] == 1  # no phantom file
    assert run_cli("report", "--strict", str(root)).code == 1
