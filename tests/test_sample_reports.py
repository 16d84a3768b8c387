"""`inspect` and `report` on every sample agree with values computed independently."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import SAMPLES, run_cli, tree_digest
from .independent import LayerTruth, blob, layer_truth, oci_manifests, sha256


def _tar_files(path: Path) -> dict[str, bytes]:
    """Every regular member of a tar, links resolved the way tar extraction would."""
    out: dict[str, bytes] = {}
    with tarfile.open(path) as tf:
        members = {m.name.removeprefix("./"): m for m in tf}
        for name, m in members.items():
            target = m
            while target.issym() or target.islnk():
                link = target.linkname
                if target.issym():
                    link = str(Path(name).parent / link)
                link = str(Path(link)).replace("\\", "/")
                parts: list[str] = []
                for part in link.split("/"):
                    if part == "..":
                        parts.pop()
                    elif part not in ("", "."):
                        parts.append(part)
                name_t = "/".join(parts)
                target = members[name_t]
            if target.isreg():
                f = tf.extractfile(target)
                assert f is not None
                out[name] = f.read()
    return out


def _expected_oci(layout: Path) -> dict[str, tuple[str, list[LayerTruth]]]:
    """manifest digest → (config digest, layer truths) for an OCI layout directory."""
    out = {}
    for digest, manifest in oci_manifests(layout):
        layers = [
            layer_truth(blob(layout, d["digest"]))
            for d in manifest["layers"]
            if (layout / "blobs" / d["digest"].replace(":", "/")).exists()
            and "tar" in d["mediaType"]
        ]
        out[digest] = (manifest["config"]["digest"], layers)
    return out


def _extract(tar: Path, into: Path) -> Path:
    for name, data in _tar_files(tar).items():
        (into / name).parent.mkdir(parents=True, exist_ok=True)
        (into / name).write_bytes(data)
    return into


def _by_manifest(doc: dict[str, Any]) -> dict[str | None, dict[str, Any]]:
    return {img["manifest_digest"]: img for img in doc["images"]}


def _assert_layers(got: list[dict[str, Any]], want: list[LayerTruth]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert (g["digest"], g["size"], g["diff_id"]) == (w.digest, w.size, w.diff_id)
        assert (
            g["uncompressed_size"],
            g["files"],
            g["file_bytes"],
            g["disk_bytes"],
            g["whiteouts"],
        ) == (w.uncompressed_size, w.files, w.file_bytes, w.disk_bytes, w.whiteouts)
        assert g["verified"] is True
        assert (g["entries"], g["dirs"], g["symlinks"], g["hardlinks"], g["newest_mtime"]) == (
            w.entries,
            w.dirs,
            w.symlinks,
            w.hardlinks,
            w.newest_mtime,
        )


@pytest.mark.parametrize(
    "name", ["oci-layout", "oci-zstd", "multi-platform", "oci-archive.tar", "docker-25.tar"]
)
def test_oci_based_samples_match_independent_values(name: str, tmp_path: Path) -> None:
    path = SAMPLES / name
    layout = _extract(path, tmp_path) if path.is_file() else path
    expected = _expected_oci(layout)
    before = tree_digest(path)
    run = run_cli("report", "--format", "json", str(path))
    assert run.code == 0, run.err
    doc = run.json()
    assert doc["ok"] is True and doc["problems"] == []
    got = _by_manifest(doc)
    assert set(got) == set(expected)
    for manifest_digest, (config_digest, layers) in expected.items():
        image = got[manifest_digest]
        assert image["config_digest"] == config_digest
        _assert_layers(image["layers"], layers)
        assert image["totals"]["uncompressed_size"] == sum(w.uncompressed_size for w in layers)
        assert image["totals"]["disk_bytes"] == sum(w.disk_bytes for w in layers)
        assert image["totals"]["size"] == sum(w.size for w in layers)
    assert tree_digest(path) == before


def test_legacy_docker_save_matches_independent_values() -> None:
    path = SAMPLES / "docker-legacy.tar"
    files = _tar_files(path)
    entry = json.loads(files["manifest.json"])[0]
    config = files[entry["Config"]]
    run = run_cli("report", "--format", "json", str(path))
    assert run.code == 0, run.err
    (image,) = run.json()["images"]
    assert image["manifest_digest"] is None
    assert image["config_digest"] == sha256(config)
    assert image["refs"] == entry["RepoTags"]
    want = [layer_truth(files[p]) for p in entry["Layers"]]
    assert [w.diff_id for w in want] == json.loads(config)["rootfs"]["diff_ids"]
    _assert_layers(image["layers"], want)


def test_skopeo_dir_sample_matches_independent_values() -> None:
    path = SAMPLES / "docker-dir"
    manifest_bytes = (path / "manifest.json").read_bytes()
    manifest = json.loads(manifest_bytes)
    run = run_cli("report", "--format", "json", str(path))
    assert run.code == 0, run.err
    (image,) = run.json()["images"]
    assert image["manifest_digest"] == sha256(manifest_bytes)
    assert image["config_digest"] == manifest["config"]["digest"]
    want = [
        layer_truth((path / d["digest"].split(":")[1]).read_bytes()) for d in manifest["layers"]
    ]
    _assert_layers(image["layers"], want)


def test_inspect_contract_on_two_tag_layout() -> None:
    layout = SAMPLES / "oci-layout"
    index = json.loads((layout / "index.json").read_text())
    refs = [d["annotations"]["org.opencontainers.image.ref.name"] for d in index["manifests"]]
    run = run_cli("inspect", "--format", "json", str(layout))
    assert run.code == 0, run.err
    doc = run.json()
    assert doc["schema_version"] == 2
    assert doc["source"] == {"path": str(layout), "format": "oci-layout"}
    (image,) = doc["images"]
    assert sorted(image["refs"]) == sorted(refs)
    manifest_desc = index["manifests"][0]
    manifest = json.loads(blob(layout, manifest_desc["digest"]))
    assert image["manifest_digest"] == manifest_desc["digest"]
    assert image["manifest_media_type"] == manifest_desc["mediaType"]
    assert image["index_digest"] is None
    assert image["config_digest"] == manifest["config"]["digest"]
    assert image["platform"] == {"os": "linux", "architecture": "amd64", "variant": None}
    assert image["created"] == json.loads(blob(layout, manifest["config"]["digest"]))["created"]
    assert image["layers"] == [
        {"digest": d["digest"], "media_type": d["mediaType"], "size": d["size"]}
        for d in manifest["layers"]
    ]


def test_nested_index_platforms() -> None:
    layout = SAMPLES / "multi-platform"
    top = json.loads((layout / "index.json").read_text())["manifests"][0]
    nested = json.loads(blob(layout, top["digest"]))
    run = run_cli("inspect", "--format", "json", str(layout))
    assert run.code == 0, run.err
    images = run.json()["images"]
    assert [(i["manifest_digest"], i["platform"], i["index_digest"]) for i in images] == [
        (d["digest"], {"variant": None, **d["platform"]}, top["digest"])
        for d in nested["manifests"]
    ]


@pytest.mark.parametrize("compress", [["gzip", "-c"], ["zstd", "-q", "-c"]])
@pytest.mark.parametrize("name", ["docker-legacy.tar", "docker-25.tar", "oci-archive.tar"])
def test_compressed_tarball_on_stdin_equals_the_file(name: str, compress: list[str]) -> None:
    import shutil
    import subprocess

    if shutil.which(compress[0]) is None:
        pytest.skip(f"{compress[0]} not installed")
    path = SAMPLES / name
    packed = subprocess.run([*compress, str(path)], capture_output=True, check=True).stdout
    from_file = run_cli("report", "--format", "json", str(path)).json()
    from_stdin = run_cli("report", "--format", "json", "-", stdin=packed)
    assert from_stdin.code == 0, from_stdin.err
    doc = from_stdin.json()
    assert doc["source"]["path"] == "-"
    assert doc["images"] == from_file["images"]
    assert io.BytesIO(packed).read(2) in (b"\x1f\x8b", b"\x28\xb5")


@pytest.mark.parametrize("name", ["oci-layout", "oci-archive.tar"])
def test_fast_checks_stored_digests_only(name: str, sample_copy: Callable[[str], Path]) -> None:
    path = sample_copy(name)
    for where in [str(path)] + (["-"] if path.is_file() else []):
        stdin = path.read_bytes() if where == "-" else None
        run = run_cli("verify", "--fast", "--format", "json", where, stdin=stdin)
        assert run.code == 0, run.err
        layers = [layer for image in run.json()["images"] for layer in image["layers"]]
        assert layers and all(layer["uncompressed_size"] is None for layer in layers)
        assert all(layer["verified"] for layer in layers)
