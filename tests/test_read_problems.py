"""A blob that cannot be read is reported once, naming the blob, whoever met it first."""

from __future__ import annotations

import json
from pathlib import Path

from . import exports as ex
from .conftest import run_cli


def _layout_with_config_link(tmp_path: Path) -> tuple[Path, str]:
    root = ex.to_dir(ex.oci([ex.Image([ex.layer_tar({"a": b"a"})], tag="app:1")]), tmp_path / "x")
    index = json.loads((root / "index.json").read_text())
    manifest = json.loads(
        (
            root / index["manifests"][0]["digest"].replace(":", "/", 1).join(["blobs/", ""])
        ).read_text()
    )
    config = manifest["config"]["digest"]
    blob = root / "blobs" / "sha256" / config.split(":", 1)[1]
    blob.unlink()
    blob.symlink_to("/etc/hostname")
    return root, config


def test_a_config_resolving_outside_is_one_problem_naming_the_blob(tmp_path: Path) -> None:
    root, config = _layout_with_config_link(tmp_path)
    name = "blobs/sha256/" + config.split(":", 1)[1]
    run = run_cli("verify", "--format", "json", str(root))
    assert run.code == 1, run.err
    found = [p for p in run.json()["problems"] if p["kind"] == "blob_outside_export"]
    assert [(p["digest"], p["message"]) for p in found] == [
        (config, f"{name}: resolves outside the export")
    ]
    text = run_cli("verify", str(root))
    assert text.code == 1
    assert text.out.count("blob_outside_export") == 1  # the text report goes to stdout
    assert name in text.out
