"""footprint names: an image whose own name reads like another's qualified label."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from .builders import build_layout, tar_bytes
from .conftest import run_cli


def _export(root: Path, name: str, ref: str, content: bytes) -> None:
    build_layout(root / name, [gzip.compress(tar_bytes([("f", content)]), mtime=0)], ref=ref)


def test_a_name_equal_to_a_qualified_label_is_qualified_too(tmp_path: Path) -> None:
    """A and B tag different images ``latest`` (A:latest, B:latest); D's image is named
    ``A:latest`` itself: shown as A's label, it would read as A's image."""
    _export(tmp_path, "A", "latest", b"one")
    _export(tmp_path, "B", "latest", b"two")
    _export(tmp_path, "D", "A:latest", b"three")
    run = run_cli("footprint", "--format", "json", "A", "B", "D", cwd=tmp_path)
    assert run.code == 0, run.err
    (platform,) = json.loads(run.out)["platforms"]
    assert platform["images"] == ["A:latest", "B:latest", "D:A:latest"]


def test_one_image_under_one_name_stays_unqualified(tmp_path: Path) -> None:
    _export(tmp_path, "A", "latest", b"one")
    _export(tmp_path, "C", "latest", b"one")  # the same image, so the same name is no clash
    _export(tmp_path, "D", "A:latest", b"three")  # no clash: no label reads A:latest
    run = run_cli("footprint", "--format", "json", "A", "C", "D", cwd=tmp_path)
    assert run.code == 0, run.err
    (platform,) = json.loads(run.out)["platforms"]
    assert platform["images"] == ["latest", "A:latest"]
