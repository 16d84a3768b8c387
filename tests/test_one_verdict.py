"""The handed cases of "one verdict on every path", each built here and checked against values
computed with the standard library: labels never turn off checks, one bad document spoils only
itself, inspect and verify agree, and resources stay bounded on hostile metadata."""

from __future__ import annotations

import base64
import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest

from .conftest import run_cli
from .exports import (
    OCI_CONFIG,
    OCI_GZIP,
    OCI_MANIFEST,
    Image,
    cj,
    layer_tar,
    legacy,
    oci,
    sha,
    to_dir,
    to_tar,
)

OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def put(root: Path, data: bytes, algorithm: str = "sha256", encoded: str | None = None) -> dict:  # type: ignore[type-arg]
    encoded = encoded or sha(data)[7:]
    path = root / "blobs" / algorithm / encoded
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"digest": f"{algorithm}:{encoded}", "size": len(data)}


def layout(root: Path, manifests: list[dict]) -> Path:  # type: ignore[type-arg]
    root.mkdir(parents=True, exist_ok=True)
    (root / "oci-layout").write_bytes(cj({"imageLayoutVersion": "1.0.0"}))
    (root / "index.json").write_bytes(cj({"schemaVersion": 2, "manifests": manifests}))
    return root


def image_manifest(root: Path, layers: list[bytes], config: dict | None = None) -> dict:  # type: ignore[type-arg]
    """Store one gzip-layered image; returns its manifest descriptor (for index.json)."""
    blobs = [gzip.compress(t, mtime=0) for t in layers]
    config = config or {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [sha(t) for t in layers]},
    }
    manifest = cj(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, **put(root, cj(config))},
            "layers": [{"mediaType": OCI_GZIP, **put(root, b)} for b in blobs],
        }
    )
    return {"mediaType": OCI_MANIFEST, **put(root, manifest)}


def kinds(doc: dict) -> set[str]:  # type: ignore[type-arg]
    return {p["kind"] for p in doc["problems"]}


def hostile_layer() -> bytes:
    """A setuid file with a ``..`` path and a character device: three safety findings."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        evil = tarfile.TarInfo("../../usr/bin/evil")
        evil.mode, evil.size = 0o4755, 4
        tf.addfile(evil, io.BytesIO(b"evil"))
        dev = tarfile.TarInfo("home/user/mem")
        dev.type, dev.devmajor, dev.devminor = tarfile.CHRTYPE, 1, 1
        tf.addfile(dev)
    return buf.getvalue()


# --- labels never turn off checks (G04) and kinds come from structure (K5) ------------------------


@pytest.mark.parametrize(
    "annotations",
    [
        {"vnd.docker.reference.type": "attestation-manifest"},
        {"org.opencontainers.image.ref.name": "sha256-" + "a" * 64 + ".sig"},
        {"kind": "dev.cosignproject.cosign/atts"},
    ],
)
def test_labels_never_turn_off_tar_checks(annotations: dict, tmp_path: Path) -> None:  # type: ignore[type-arg]
    root = tmp_path / "l"
    desc = image_manifest(root, [hostile_layer()])
    desc["annotations"] = annotations
    desc["platform"] = {"os": "linux", "architecture": "amd64"}
    layout(root, [desc])
    run = run_cli("verify", "--strict", "--format", "json", str(root))
    assert {"unsafe_path", "setuid_setgid", "device_node_outside_dev"} <= kinds(run.json())
    assert run.code == 1
    assert run.json()["images"][0]["kind"] == "image"


def test_cosign_save_is_one_image_one_signature_one_attestation(tmp_path: Path) -> None:
    root = tmp_path / "l"
    layer = layer_tar({"bundle/manifest.yaml": b"kind: Bundle\n" * 20})
    image = image_manifest(root, [layer])
    image["platform"] = {"os": "linux", "architecture": "amd64"}
    nested = cj({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [image]})
    payload = cj({"critical": {"image": {"docker-manifest-digest": sha(nested)}}})
    envelope = cj(
        {
            "payloadType": "application/vnd.in-toto+json",
            "payload": base64.b64encode(b'{"_type":"x"}').decode(),
            "signatures": [],
        }
    )

    def artifact(blob: bytes, media_type: str) -> dict:  # type: ignore[type-arg]
        config = {
            "architecture": "",
            "os": "",
            "rootfs": {"type": "layers", "diff_ids": [sha(blob)]},
        }
        manifest = cj(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, **put(root, cj(config))},
                "layers": [{"mediaType": media_type, **put(root, blob)}],
            }
        )
        return {"mediaType": OCI_MANIFEST, **put(root, manifest)}

    sigs = artifact(payload, "application/vnd.dev.cosign.simplesigning.v1+json")
    atts = artifact(envelope, "application/vnd.dsse.envelope.v1+json")
    layout(root, [{"mediaType": OCI_INDEX, **put(root, nested)}, sigs, atts])
    doc = run_cli("inspect", "--format", "json", str(root)).json()
    by_kind = {i["kind"]: i["manifest_digest"] for i in doc["images"]}
    assert by_kind == {
        "image": image["digest"],
        "signature": sigs["digest"],
        "attestation": atts["digest"],
    }
    assert [i["platform"] for i in doc["images"] if i["kind"] != "image"] == [None, None]
    run = run_cli("verify", "--strict", "--format", "json", str(root))
    assert run.code == 0 and kinds(run.json()) == set()
    fp = run_cli("footprint", "--format", "json", str(root)).json()
    assert [p["platform"] for p in fp["platforms"]] == ["linux/amd64"]


# --- one bad document spoils only itself ---------------------------------------------------------


def test_a_bad_config_field_is_a_problem_on_that_image_only(tmp_path: Path) -> None:
    root = tmp_path / "l"
    good = image_manifest(root, [layer_tar({"a": b"a"})])
    bad_config = {"architecture": 7, "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
    bad = image_manifest(root, [layer_tar({"b": b"b"})], bad_config)
    layout(root, [good, bad])
    inspect = run_cli("inspect", "--format", "json", str(root))
    assert [i["manifest_digest"] for i in inspect.json()["images"]] == [
        good["digest"],
        bad["digest"],
    ]
    assert kinds(inspect.json()) == {"bad_metadata"} and inspect.code == 1
    verify = run_cli("verify", "--format", "json", str(root)).json()
    assert [layer["verified"] for i in verify["images"] for layer in i["layers"]] == [True, True]


@pytest.mark.parametrize("nested", [False, True])
def test_an_oversized_metadata_blob_is_a_problem_on_that_blob(nested: bool, tmp_path: Path) -> None:
    root = tmp_path / "l"
    good = image_manifest(root, [layer_tar({"a": b"a"})])
    big = {"mediaType": OCI_MANIFEST, **put(root, b" " * (20 << 20))}
    entries = [good, big]
    if nested:
        index = cj({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
        entries = [{"mediaType": OCI_INDEX, **put(root, index)}]
    layout(root, entries)
    run = run_cli("verify", "--format", "json", str(root))
    assert run.code == 1 and kinds(run.json()) == {"bad_metadata"}
    image = next(i for i in run.json()["images"] if i["manifest_digest"] == good["digest"])
    assert image["layers"][0]["verified"] is True
    inspect = run_cli("inspect", str(root))
    assert inspect.code == 1 and inspect.err.count("\n") == 1


def test_a_digest_we_cannot_hash_is_unverifiable_and_the_rest_verified(tmp_path: Path) -> None:
    root = tmp_path / "l"
    first, second = layer_tar({"a": b"a"}), layer_tar({"b": b"b"})
    config = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [sha(first), sha(second)]},
    }
    g1, g2 = gzip.compress(first, mtime=0), gzip.compress(second, mtime=0)
    b3 = put(root, g2, "blake3", "ab" * 32)
    manifest = cj(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, **put(root, cj(config))},
            "layers": [{"mediaType": OCI_GZIP, **put(root, g1)}, {"mediaType": OCI_GZIP, **b3}],
        }
    )
    layout(root, [{"mediaType": OCI_MANIFEST, **put(root, manifest)}])
    run = run_cli("verify", "--format", "json", str(root))
    assert run.code == 0 and kinds(run.json()) == {"unverifiable_digest"}
    layers = run.json()["images"][0]["layers"]
    assert (layers[0]["digest"], layers[0]["verified"], layers[0]["diff_id"]) == (
        sha(g1),
        True,
        sha(first),
    )
    assert layers[1]["verified"] is False
    assert run_cli("verify", "--strict", str(root)).code == 1
    assert len(run_cli("inspect", "--format", "json", str(root)).json()["images"]) == 1


def test_urls_alone_do_not_make_a_missing_layer_foreign(tmp_path: Path) -> None:
    root = tmp_path / "l"
    desc = image_manifest(root, [layer_tar({"a": b"a"})])
    manifest = json.loads((root / "blobs/sha256" / desc["digest"][7:]).read_bytes())
    layer = manifest["layers"][0]
    layer["urls"] = ["https://example.com/layer"]
    (root / "blobs/sha256" / layer["digest"][7:]).unlink()
    layout(root, [{"mediaType": OCI_MANIFEST, **put(root, cj(manifest))}])
    run = run_cli("verify", "--format", "json", str(root))
    assert run.code == 1 and kinds(run.json()) == {"missing_blob"}


# --- inspect and verify agree --------------------------------------------------------------------


def test_inspect_reports_absent_manifests_like_verify(tmp_path: Path) -> None:
    root = tmp_path / "l"
    desc = image_manifest(root, [layer_tar({"a": b"a"})])
    layout(root, [desc])
    for blob in (root / "blobs/sha256").iterdir():
        blob.unlink()
    for command in ("inspect", "verify"):
        run = run_cli(command, "--format", "json", str(root))
        assert run.code == 1 and kinds(run.json()) == {"missing_blob"}, command


@pytest.mark.parametrize("as_file", [True, False])
def test_inspect_reports_a_diff_id_count_mismatch_like_verify(
    as_file: bool, tmp_path: Path
) -> None:
    """moby/moby#47065: a Docker 25 save whose manifest lists no layers, config one diff_id."""
    tar = layer_tar({"a": b"a"})
    w = oci([Image([tar])], docker25=True)
    manifest = json.loads(w.files[w.manifest_name])
    manifest["layers"] = []
    new = cj(manifest)
    del w.files[w.manifest_name]
    w.files["blobs/sha256/" + sha(new)[7:]] = new
    index = json.loads(w.files["index.json"])
    index["manifests"][0].update(digest=sha(new), size=len(new))
    w.files["index.json"] = cj(index)
    entries = json.loads(w.files["manifest.json"])
    entries[0]["Layers"] = []
    w.files["manifest.json"] = cj(entries)
    target = tmp_path / "save.tar"
    target.write_bytes(to_tar(w))
    for command in ("inspect", "verify"):
        run = run_cli(command, "--format", "json", str(target))
        assert run.code == 1 and "diff_id_count_mismatch" in kinds(run.json()), command


# --- legacy LayerSources is information, not a descriptor (K2) ----------------------------------


@pytest.mark.parametrize("stripped", [False, True])
def test_layer_sources_describe_a_foreign_layer_without_replacing_it(
    stripped: bool, tmp_path: Path
) -> None:
    base = layer_tar({"Files/Windows/system.ini": b"[boot]\r\n" * 400})
    app = layer_tar({"Files/app/app.exe": b"MZ" + b"\x90" * 3000})
    w = legacy([Image([base, app])])
    foreign = gzip.compress(base, mtime=0)
    entries = json.loads(w.files["manifest.json"])
    entries[0]["LayerSources"] = {
        sha(base): {
            "mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
            "digest": sha(foreign),
            "size": len(foreign),
            "urls": ["https://download.example.com/base"],
        }
    }
    w.files["manifest.json"] = cj(entries)
    if stripped:
        del w.files[w.layer_names[0]]
    target = tmp_path / "save.tar"
    target.write_bytes(to_tar(w))
    for run in (
        run_cli("verify", "--format", "json", str(target)),
        run_cli("verify", "--format", "json", "-", stdin=target.read_bytes()),
    ):
        assert run.code == 0, run.out
        assert kinds(run.json()) == ({"foreign_layer_absent"} if stripped else set())
    layer = run_cli("inspect", "--format", "json", str(target)).json()["images"][0]["layers"][0]
    assert (layer["digest"], layer["size"]) == (sha(base), len(foreign) if stripped else len(base))


# --- bounded on hostile metadata ----------------------------------------------------------------


def test_json_go_rejects_is_rejected(tmp_path: Path) -> None:
    bom = tmp_path / "bom"
    layout(bom, [image_manifest(bom, [layer_tar({"a": b"a"})])])
    (bom / "index.json").write_bytes(b"\xef\xbb\xbf" + (bom / "index.json").read_bytes())
    nan = tmp_path / "nan"
    config = (
        b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"x":NaN}'
    )
    manifest = cj(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, **put(nan, config)},
            "layers": [],
        }
    )
    layout(nan, [{"mediaType": OCI_MANIFEST, **put(nan, manifest)}])
    for root in (bom, nan):
        for command in ("inspect", "verify"):
            run = run_cli(command, "--format", "json", str(root))
            assert run.code in (1, 2) and run.err.count("\n") <= 1, (root, command)
            if run.code == 1:
                assert "bad_metadata" in kinds(run.json())


def _child_rss_mb(*args: str) -> tuple[int, float]:
    """Exit status and peak RSS (MiB) of one ocianalyze run, started from a small process."""
    from .test_bounds_support import run_rss

    return run_rss(*args)


def test_nested_index_fan_out_is_walked_once_per_digest(tmp_path: Path) -> None:
    """7 nested indexes, each listing the next 8 times: 2 million paths to one manifest."""
    root = tmp_path / "l"
    child = image_manifest(root, [layer_tar({"a": b"a"})])
    child["platform"] = {"os": "linux", "architecture": "amd64"}
    for _ in range(7):
        index = cj({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [child] * 8})
        child = {"mediaType": OCI_INDEX, **put(root, index)}
    layout(root, [child])
    run = run_cli("verify", "--format", "json", str(root), timeout=20)
    assert run.code == 0 and len(run.json()["images"]) == 1


def test_json_that_would_expand_past_memory_is_refused_in_one_line(tmp_path: Path) -> None:
    root = tmp_path / "l"
    layout(root, [image_manifest(root, [layer_tar({"a": b"a"})])])
    index = json.loads((root / "index.json").read_bytes())
    index["x"] = [[]] * 1_000_000
    (root / "index.json").write_bytes(cj(index))
    code, rss = _child_rss_mb("inspect", str(root))
    assert code == 2 and rss < 64


def test_an_outer_long_name_bomb_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    """A .tar.gz whose first header is a GNU long name claiming 300 MiB."""
    header = tarfile.TarInfo("././@LongLink")
    header.type, header.size = tarfile.GNUTYPE_LONGNAME, 300 << 20
    compressor = gzip.GzipFile(tmp_path / "bomb.tar.gz", "wb", mtime=0)
    with compressor as f:
        f.write(header.tobuf(tarfile.GNU_FORMAT))
        chunk = b"a" * (1 << 20)
        for _ in range(300):
            f.write(chunk)
    code, rss = _child_rss_mb("verify", str(tmp_path / "bomb.tar.gz"))
    assert code == 2 and rss < 64


def test_docker25_dir_and_to_dir_helper_agree(tmp_path: Path) -> None:
    """The same Docker 25 save read from a directory and from its tar lists the same images."""
    w = oci([Image([layer_tar({"a": b"a"})])], docker25=True)
    (tmp_path / "save.tar").write_bytes(to_tar(w))
    a = run_cli("inspect", "--format", "json", str(to_dir(w, tmp_path / "d"))).json()["images"]
    b = run_cli("inspect", "--format", "json", str(tmp_path / "save.tar")).json()["images"]
    assert [i["manifest_digest"] for i in a] == [i["manifest_digest"] for i in b]


def test_one_manifest_listed_under_many_names_is_one_image(tmp_path: Path) -> None:
    root = tmp_path / "l"
    desc = image_manifest(root, [layer_tar({"a": b"a"})])
    names = [f"example/app:{n}" for n in range(40_000)]
    listed = [{**desc, "annotations": {"org.opencontainers.image.ref.name": n}} for n in names]
    layout(root, listed)
    run = run_cli("inspect", "--format", "json", str(root), timeout=20)
    assert run.code == 0
    assert [len(i["refs"]) for i in run.json()["images"]] == [40_000]
