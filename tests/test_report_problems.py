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


def test_files_json_stays_json_when_a_layer_cannot_be_listed(tmp_path: Path) -> None:
    """PAX mtime=nan: Go's archive/tar rejects the header, so the layer is no tar to list."""
    import json

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo("etc/motd")
        info.size, info.pax_headers = 2, {"mtime": "nan"}
        tf.addfile(info, io.BytesIO(b"hi"))
    root = tmp_path / "l"
    layout(root, [image_manifest(root, [buf.getvalue()])])
    run = run_cli("files", "--format", "json", str(root))
    doc = json.loads(run.out, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    assert run.code == 1 and doc["entries"] is None and "cannot be listed" in doc["error"]
    assert len(run.err.splitlines()) == 1
