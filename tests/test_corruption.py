"""A damaged copy of each sample kind gives the right problem kind and exit code 1, and the
input is left byte-identical."""

from __future__ import annotations

import hashlib
import json
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import run_cli, tree_digest
from .independent import oci_manifests

LAYOUTS = ["oci-layout", "oci-zstd", "multi-platform", "docker-dir"]


def _blob_path(layout: Path, digest: str) -> Path:
    if (layout / "version").exists():  # skopeo dir: blobs named by bare hex
        return layout / digest.split(":")[1]
    return layout / "blobs" / digest.replace(":", "/")


def _manifest(layout: Path) -> tuple[str, dict[str, Any]]:
    if (layout / "version").exists():
        data = (layout / "manifest.json").read_bytes()
        return "sha256:" + hashlib.sha256(data).hexdigest(), json.loads(data)
    return oci_manifests(layout)[0]


def _write_blob(layout: Path, data: bytes) -> dict[str, Any]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    path = _blob_path(layout, digest)
    path.write_bytes(data)
    return {"digest": digest, "size": len(data)}


def _repoint(layout: Path, old: str, new: dict[str, Any]) -> None:
    """Make every document that names ``old`` name ``new`` instead, up to index.json."""
    if (layout / "version").exists():
        return
    docs = [layout / "index.json", *(layout / "blobs" / "sha256").iterdir()]
    for path in docs:
        try:
            doc = json.loads(path.read_bytes())
        except (UnicodeDecodeError, ValueError):
            continue
        if not isinstance(doc, dict) or old not in json.dumps(doc):
            continue
        for desc in doc.get("manifests", []) + doc.get("layers", []) + [doc.get("config", {})]:
            if desc.get("digest") == old:
                desc.update(new)
        data = json.dumps(doc).encode()
        if path.name == "index.json":
            path.write_bytes(data)
        else:
            _repoint(layout, "sha256:" + path.name, _write_blob(layout, data))


def _rewrite_manifest(layout: Path, change: Callable[[dict[str, Any]], None]) -> None:
    digest, manifest = _manifest(layout)
    change(manifest)
    data = json.dumps(manifest).encode()
    if (layout / "version").exists():
        (layout / "manifest.json").write_bytes(data)
    else:
        _repoint(layout, digest, _write_blob(layout, data))


def _first_layer(layout: Path) -> Path:
    return _blob_path(layout, _manifest(layout)[1]["layers"][0]["digest"])


def flip_byte(layout: Path) -> None:
    path = _first_layer(layout)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def truncate(layout: Path) -> None:
    path = _first_layer(layout)
    path.write_bytes(path.read_bytes()[:-100])


def remove(layout: Path) -> None:
    _first_layer(layout).unlink()


def wrong_size(layout: Path) -> None:
    _rewrite_manifest(layout, lambda m: m["layers"][0].update(size=m["layers"][0]["size"] + 1))


def wrong_diff_id(layout: Path) -> None:
    _, manifest = _manifest(layout)
    config_path = _blob_path(layout, manifest["config"]["digest"])
    config = json.loads(config_path.read_bytes())
    config["rootfs"]["diff_ids"][0] = "sha256:" + "0" * 64
    new = _write_blob(layout, json.dumps(config).encode())
    _rewrite_manifest(layout, lambda m: m["config"].update(new))


DAMAGE = {
    flip_byte: "digest_mismatch",
    truncate: "size_mismatch",
    remove: "missing_blob",
    wrong_size: "size_mismatch",
    wrong_diff_id: "diff_id_mismatch",
}


@pytest.mark.parametrize("damage", list(DAMAGE), ids=lambda f: f.__name__)
@pytest.mark.parametrize("name", LAYOUTS)
def test_damaged_layout(
    name: str, damage: Callable[[Path], None], sample_copy: Callable[[str], Path]
) -> None:
    layout = sample_copy(name)
    damage(layout)
    before = tree_digest(layout)
    run = run_cli("verify", "--format", "json", str(layout))
    assert run.code == 1, run.err
    kinds = {p["kind"] for p in run.json()["problems"] if p["severity"] == "error"}
    assert DAMAGE[damage] in kinds
    assert tree_digest(layout) == before
    text = run_cli("verify", str(layout))
    assert text.code == 1
    assert f"error: {DAMAGE[damage]}: " in text.out


def _rewrite_tar(src: Path, dst: Path, change: Callable[[str, bytes], bytes | None]) -> None:
    with tarfile.open(src) as tin, tarfile.open(dst, "w", format=tarfile.PAX_FORMAT) as tout:
        for m in tin:
            f = tin.extractfile(m) if m.isreg() else None
            data = f.read() if f else None
            if data is not None:
                new = change(m.name, data)
                if new is None:
                    continue
                m.size = len(new)
                tout.addfile(m, __import__("io").BytesIO(new))
            else:
                tout.addfile(m)


def _flip_layer(name: str, data: bytes) -> bytes:
    if name.endswith("layer.tar") or (name.startswith("blobs/") and data[:1] != b"{"):
        buf = bytearray(data)
        buf[600] ^= 0xFF  # inside the first member's data: the tar stays readable
        return bytes(buf)
    return data


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("docker-legacy.tar", "diff_id_mismatch"),
        ("docker-25.tar", "digest_mismatch"),
        ("oci-archive.tar", "digest_mismatch"),
    ],
)
def test_damaged_tarball(name: str, kind: str, tmp_path: Path) -> None:
    from .conftest import SAMPLES

    damaged = tmp_path / name
    _rewrite_tar(SAMPLES / name, damaged, _flip_layer)
    run = run_cli("verify", "--format", "json", str(damaged))
    assert run.code == 1, run.err
    kinds = {p["kind"] for p in run.json()["problems"]}
    assert kind in kinds
    piped = run_cli("verify", "--format", "json", "-", stdin=damaged.read_bytes())
    assert piped.code == 1
    assert kind in {p["kind"] for p in piped.json()["problems"]}


def _xz_layers(name: str, data: bytes) -> bytes:
    """Every layer member inflated and recompressed with xz, as `docker load` still takes."""
    import lzma

    from .independent import decompress

    if name.endswith("layer.tar") or (name.startswith("blobs/") and data[:1] != b"{"):
        return lzma.compress(decompress(data))
    return data


@pytest.mark.parametrize("name", ["docker-legacy.tar", "docker-25.tar", "oci-archive.tar"])
def test_xz_layers_are_named_not_called_corrupt(name: str, tmp_path: Path) -> None:
    from .conftest import SAMPLES

    damaged = tmp_path / name
    _rewrite_tar(SAMPLES / name, damaged, _xz_layers)
    for run in (
        run_cli("verify", "--format", "json", str(damaged)),
        run_cli("verify", "--format", "json", "-", stdin=damaged.read_bytes()),
    ):
        assert run.code == 1, run.err
        kinds = {p["kind"] for p in run.json()["problems"]}
        assert "unsupported_compression" in kinds
        assert not kinds & {"diff_id_mismatch", "truncated", "not_a_tar", "corrupt_compression"}
