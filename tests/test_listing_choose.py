"""`--image` when several images match: one line naming each candidate by a digest prefix
that selects it (handed case k8: four manifests under one ref, two of them linux/amd64)."""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
from pathlib import Path
from typing import Any

from .builders import put
from .conftest import run_cli

REF = "org.opencontainers.image.ref.name"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"


def one_file_tar(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def image(layout: Path, arch: str, text: bytes, ref: str) -> dict[str, Any]:
    layer = one_file_tar("version", text)
    config = {
        "architecture": arch,
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]},
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            **put(layout, json.dumps(config).encode()),
        },
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **put(layout, layer)}],
    }
    return {
        "mediaType": MANIFEST,
        **put(layout, json.dumps(manifest).encode()),
        "platform": {"os": "linux", "architecture": arch},
        "annotations": {REF: ref},
    }


def build(layout: Path, ref: str = "v1.0") -> dict[str, str]:
    """ppc64le, two amd64 builds and (through a nested index) arm64, all under ``ref``."""
    layout.mkdir()
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    ppc = image(layout, "ppc64le", b"ppc\n", ref)
    old = image(layout, "amd64", b"old build\n", ref)
    new = image(layout, "amd64", b"new build\n", ref)
    arm = image(layout, "arm64", b"arm\n", ref)
    inner = {"schemaVersion": 2, "mediaType": INDEX, "manifests": [arm]}
    nested = {
        "mediaType": INDEX,
        **put(layout, json.dumps(inner).encode()),
        "annotations": {REF: ref},
    }
    top = {"schemaVersion": 2, "manifests": [nested, ppc, old, new]}
    (layout / "index.json").write_text(json.dumps(top))
    return {
        k: d["digest"].split(":")[1]
        for k, d in (("ppc", ppc), ("old", old), ("new", new), ("arm", arm))
    }


def test_k8_candidates_are_named_by_prefixes_that_select_them(tmp_path: Path) -> None:
    digests = build(tmp_path / "layout")
    layout = str(tmp_path / "layout")
    amd = run_cli("files", "--image", "linux/amd64", layout, timeout=60)
    assert amd.code == 2 and len(amd.err.splitlines()) == 1
    assert digests["old"][:12] in amd.err and digests["new"][:12] in amd.err
    assert digests["ppc"][:12] not in amd.err
    ref = run_cli("files", "--image", "v1.0", layout, timeout=60)
    assert ref.code == 2 and len(ref.err.splitlines()) == 1
    assert all(d[:12] in ref.err for d in digests.values())
    for name, text in (("old", b"old build\n"), ("new", b"new build\n")):
        chosen = run_cli("files", "--image", digests[name][:12], "--format", "json", layout)
        assert chosen.code == 0, chosen.err
        (entry,) = json.loads(chosen.out)["entries"]
        assert (entry["path"], entry["size"]) == ("version", len(text))


def test_the_hint_never_carries_raw_control_characters(tmp_path: Path) -> None:
    build(tmp_path / "layout", ref="v1\x1b[31m\nforged")
    run = run_cli("files", "--image", "linux/amd64", str(tmp_path / "layout"), timeout=60)
    assert run.code == 2 and len(run.err.splitlines()) == 1
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f]", run.err)
    assert "v1\\033[31m\\nforged" in run.err  # escaped once, as `ls --quoting-style=escape`
