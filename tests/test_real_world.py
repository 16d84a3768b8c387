"""Attestations, signatures, artifacts, foreign layers, partial exports, chain IDs."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from .builders import build_layout, put, tar_bytes
from .conftest import SAMPLES, run_cli
from .independent import blob


def _nested(layout: Path) -> list[dict]:
    out = []
    for desc in json.loads((layout / "index.json").read_text())["manifests"]:
        doc = json.loads(blob(layout, desc["digest"]))
        if "manifests" in doc:
            out += [
                (d, json.loads(blob(layout, d["digest"])))
                for d in doc["manifests"]
                if (layout / "blobs" / d["digest"].replace(":", "/")).exists()
            ]
        else:
            out.append((desc, doc))
    return out


def _expected_kind(desc: dict, manifest: dict) -> str:
    """The classification rules, written out from the annotations and media types."""
    annotations = desc.get("annotations", {})
    if annotations.get("vnd.docker.reference.type") == "attestation-manifest":
        return "attestation"
    if annotations.get("org.opencontainers.image.ref.name", "").endswith(".sig"):
        return "signature"
    if manifest.get("artifactType") or manifest["config"]["mediaType"].endswith("empty.v1+json"):
        return "artifact"
    return "image"


def test_inspect_names_every_manifest_kind() -> None:
    layout = SAMPLES / "attestations"
    expected = {
        d["digest"]: (
            _expected_kind(d, m),
            d.get("annotations", {}).get("vnd.docker.reference.digest"),
        )
        for d, m in _nested(layout)
    }
    run = run_cli("inspect", "--format", "json", str(layout))
    assert run.code == 0, run.err
    got = {i["manifest_digest"]: (i["kind"], i["attests"]) for i in run.json()["images"]}
    assert got == expected
    assert sorted(k for k, _ in got.values()) == [
        "artifact",
        "attestation",
        "attestation",
        "image",
        "image",
        "signature",
    ]


def test_attestation_and_artifact_blobs_are_verified_not_walked(
    sample_copy: Callable[[str], Path],
) -> None:
    layout = sample_copy("attestations")
    assert run_cli("verify", "--strict", str(layout)).code == 0
    statement = next(d for d, m in _nested(layout) if _expected_kind(d, m) == "attestation")
    layer = json.loads(blob(layout, statement["digest"]))["layers"][0]["digest"]
    path = layout / "blobs" / layer.replace(":", "/")
    path.write_bytes(path.read_bytes().replace(b"{", b"[", 1))
    run = run_cli("verify", "--format", "json", str(layout))
    assert run.code == 1
    assert {(p["kind"], p["digest"]) for p in run.json()["problems"]} == {
        ("digest_mismatch", layer)
    }


def test_foreign_layer_absent_passes_unless_strict() -> None:
    layout = SAMPLES / "windows-foreign"
    run = run_cli("verify", "--format", "json", str(layout))
    assert run.code == 0, run.out
    manifest = next(m for _, m in _nested(layout))
    foreign = [d["digest"] for d in manifest["layers"] if "foreign" in d["mediaType"]]
    assert [(p["kind"], p["digest"]) for p in run.json()["problems"]] == [
        ("foreign_layer_absent", foreign[0])
    ]
    assert run_cli("verify", "--strict", str(layout)).code == 1


def test_partial_export_reports_the_absent_platform_once() -> None:
    layout = SAMPLES / "partial"
    run = run_cli("verify", "--format", "json", str(layout))
    assert run.code == 0, run.out
    top = json.loads((layout / "index.json").read_text())["manifests"][0]
    listed = json.loads(blob(layout, top["digest"]))["manifests"]
    absent = [d for d in listed if not (layout / "blobs" / d["digest"].replace(":", "/")).exists()]
    assert [(p["kind"], p["digest"]) for p in run.json()["problems"]] == [
        ("platform_absent", absent[0]["digest"])
    ]
    assert run_cli("verify", "--strict", str(layout)).code == 1
    footprint = run_cli("footprint", "--format", "json", str(layout)).json()
    present = {
        "/".join(
            v
            for v in (
                d["platform"]["os"],
                d["platform"]["architecture"],
                d["platform"].get("variant"),
            )
            if v
        )
        for d in listed
        if d not in absent
    }
    assert {p["platform"] for p in footprint["platforms"]} == present


def test_missing_blob_of_a_present_platform_still_fails(sample_copy: Callable[[str], Path]) -> None:
    layout = sample_copy("partial")
    _, manifest = next(
        (d, m)
        for d, m in _nested(layout)
        if (layout / "blobs" / d["digest"].replace(":", "/")).exists()
    )
    (layout / "blobs" / manifest["layers"][0]["digest"].replace(":", "/")).unlink()
    run = run_cli("verify", "--format", "json", str(layout))
    assert run.code == 1
    assert "missing_blob" in {p["kind"] for p in run.json()["problems"]}


def test_chain_ids_and_layer_users() -> None:
    layout = SAMPLES / "multi-platform"
    run = run_cli("report", "--format", "json", str(layout))
    images = run.json()["images"]
    for image in images:
        config = json.loads(blob(layout, image["config_digest"]))
        chain = []
        for diff_id in config["rootfs"]["diff_ids"]:
            chain.append(
                diff_id
                if not chain
                else "sha256:" + hashlib.sha256(f"{chain[-1]} {diff_id}".encode()).hexdigest()
            )
        assert [layer["chain_id"] for layer in image["layers"]] == chain
    counts: dict[str, int] = {}
    for image in images:
        for layer in image["layers"]:
            counts[layer["digest"]] = counts.get(layer["digest"], 0) + 1
    for image in images:
        assert [layer["used_by"] for layer in image["layers"]] == [
            counts[layer["digest"]] for layer in image["layers"]
        ]
    assert max(counts.values()) == 2


def test_history_mismatch_is_a_warning_and_lazy_formats_are_named(tmp_path: Path) -> None:
    layer = gzip.compress(tar_bytes([("f", b"x")]))
    layout = tmp_path / "l"
    manifest = build_layout(layout, [layer])
    config = json.loads(blob(layout, manifest["config"]["digest"]))
    config["history"] = [{"created_by": "a"}, {"created_by": "b"}]
    manifest["config"].update(put(layout, json.dumps(config).encode()))
    manifest["layers"][0]["annotations"] = {
        "io.github.containers.zstd-chunked.manifest-checksum": "sha256:" + "0" * 64
    }
    m = put(layout, json.dumps(manifest).encode())
    (layout / "index.json").write_text(
        json.dumps({"schemaVersion": 2, "manifests": [{"mediaType": manifest["mediaType"], **m}]})
    )
    run = run_cli("report", "--format", "json", str(layout))
    assert run.code == 0, run.out
    doc = run.json()
    assert [p["kind"] for p in doc["problems"]] == ["history_mismatch"]
    assert doc["images"][0]["layers"][0]["lazy_format"] == "zstd:chunked"


def test_docker_save_with_containerd_store_reads_compressed_blobs(tmp_path: Path) -> None:
    """Docker 25+ with the containerd store: an OCI layout whose index lists every platform
    while the tar holds the blobs of some, and manifest.json pointing at compressed blobs."""
    import io
    import tarfile

    layout = SAMPLES / "partial"
    present = next(m for d, m in _nested(layout) if "platform" in d)
    entry = [
        {
            "Config": "blobs/sha256/" + present["config"]["digest"][7:],
            "RepoTags": ["example/partial:1.0"],
            "Layers": ["blobs/sha256/" + d["digest"][7:] for d in present["layers"]],
        }
    ]
    archive = tmp_path / "save.tar"
    with tarfile.open(archive, "w") as tf:
        for path in sorted(p for p in layout.rglob("*") if p.is_file()):
            tf.add(path, arcname=str(path.relative_to(layout)))
        data = json.dumps(entry).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    run = run_cli("verify", "--format", "json", str(archive))
    assert run.code == 0, run.out
    doc = run.json()
    assert doc["source"]["format"] == "docker-archive"
    assert [p["kind"] for p in doc["problems"]] == ["platform_absent"], doc["problems"]
    tagged = [i for i in doc["images"] if "example/partial:1.0" in i["refs"]]
    assert [i["config_digest"] for i in tagged] == [present["config"]["digest"]]
    assert all(
        layer["compression"] == "gzip" and layer["verified"] for layer in tagged[0]["layers"]
    )
