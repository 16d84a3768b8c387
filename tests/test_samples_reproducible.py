"""The committed sample images are exactly what make_samples.py writes, and are consistent.

Every check here is computed independently with hashlib/gzip/tarfile/json/zstandard --
never with ocianalyze -- so the samples stay a trustworthy yardstick for the reader.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import posixpath
import subprocess
import sys
import tarfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import zstandard

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_images"
SCRIPT = SAMPLES / "make_samples.py"
NOT_OUTPUTS = {"make_samples.py", "README.md", "__pycache__"}

# Each sample -> the compressors whose exact output bytes it contains. The deflate and zstd
# streams depend on the zlib/libzstd build, so those samples can only be reproduced
# byte-for-byte by a build that compresses like the one that generated them.
COMPRESSORS: dict[str, frozenset[str]] = {
    "oci-layout": frozenset({"gzip"}),
    "oci-zstd": frozenset({"zstd"}),
    "multi-platform": frozenset({"gzip"}),
    "docker-legacy.tar": frozenset(),
    "docker-25.tar": frozenset(),
    "oci-archive.tar": frozenset({"gzip"}),
    "docker-dir": frozenset({"gzip"}),
    "attestations": frozenset({"gzip"}),
    "windows-foreign": frozenset({"gzip"}),
    "partial": frozenset({"gzip"}),
    "debootstrap": frozenset({"gzip"}),
}
# Fingerprints of the compressors (same settings as make_samples.py) that made the samples.
CANARY_INPUT = b"".join(
    b"%d canary line for the compressor fingerprint\n" % (i * i % 977) for i in range(3000)
)
CANARIES = {
    "gzip": "251bb77dab0597f2cc00e7a0b662d9ff6903eb7261e10452f571576e86767c5f",
    "zstd": "4ccc17cc6680323f8223cb918389433918a6483def32429de9ad8faefbcb49e6",
}

LAYOUT_DIRS = (
    "oci-layout",
    "oci-zstd",
    "multi-platform",
    "attestations",
    "windows-foreign",
    "partial",
    "debootstrap",
)
LAYOUT_TARS = ("docker-25.tar", "oci-archive.tar")
INDEX_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}
FOREIGN_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
# Blobs deliberately left out: media types of the descriptors that point at them.
EXPECTED_MISSING = {
    "partial": ["application/vnd.oci.image.manifest.v1+json"],  # the s390x image
    "windows-foreign": [FOREIGN_GZIP],  # fetched from its URL, never shipped
}

Blobs = dict[str, bytes]


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def compressor_fingerprint(name: str) -> str:
    if name == "gzip":
        deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
        return hashlib.sha256(deflate.compress(CANARY_INPUT) + deflate.flush()).hexdigest()
    compressor = zstandard.ZstdCompressor(level=3, write_content_size=True, write_checksum=True)
    return hashlib.sha256(compressor.compress(CANARY_INPUT)).hexdigest()


def files_under(root: Path) -> dict[str, bytes]:
    """Every file below `root` by POSIX relative path; symlinks are a failure."""
    found = {}
    for path in sorted(root.rglob("*")):
        assert not path.is_symlink(), f"{path} is a symlink"
        if path.is_file():
            found[path.relative_to(root).as_posix()] = path.read_bytes()
    return found


def committed_outputs() -> set[str]:
    return {path.name for path in SAMPLES.iterdir()} - NOT_OUTPUTS


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("samples")
    (out / "README.md").write_text("not the generator's\n")  # must survive
    stale = out / "oci-layout" / "blobs" / "sha256" / "stale"  # an owned output: replaced
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"stale")
    subprocess.run([sys.executable, str(SCRIPT), str(out)], check=True, capture_output=True)
    return out


def test_generator_writes_exactly_the_committed_samples(generated: Path) -> None:
    written = {path.name for path in generated.iterdir()} - NOT_OUTPUTS
    assert written == committed_outputs() == set(COMPRESSORS)


def test_generator_replaces_its_outputs_and_keeps_other_files(generated: Path) -> None:
    assert (generated / "README.md").read_text() == "not the generator's\n"
    assert not (generated / "oci-layout" / "blobs" / "sha256" / "stale").exists()


@pytest.mark.parametrize("name", sorted(COMPRESSORS))
def test_sample_is_byte_for_byte_reproducible(generated: Path, name: str) -> None:
    drifted = sorted(c for c in COMPRESSORS[name] if compressor_fingerprint(c) != CANARIES[c])
    if drifted:
        pytest.skip(f"this {'/'.join(drifted)} build compresses differently from the reference")
    committed, fresh = SAMPLES / name, generated / name
    if committed.is_file():
        assert not committed.is_symlink()
        assert committed.read_bytes() == fresh.read_bytes()
        return
    committed_files, fresh_files = files_under(committed), files_under(fresh)
    assert sorted(committed_files) == sorted(fresh_files)
    for rel, data in committed_files.items():
        assert data == fresh_files[rel], f"{name}/{rel} differs"


def test_committed_samples_have_no_symlinks() -> None:
    for path in SAMPLES.rglob("*"):
        assert not path.is_symlink(), f"{path} is a symlink"


def test_committed_samples_are_under_2mb() -> None:
    total = 0
    for name in committed_outputs():
        path = SAMPLES / name
        sizes = [path.stat().st_size] if path.is_file() else map(len, files_under(path).values())
        total += sum(sizes)
    assert total < 2_000_000


# ------------------------------------------------------------------ consistency


def tar_files(path: Path) -> dict[str, bytes]:
    """Regular files of a tar by name, with symlinks resolved to their targets' bytes."""
    with tarfile.open(path) as tar:
        members = {m.name.rstrip("/"): m for m in tar.getmembers()}
        regular = {n: tar.extractfile(m).read() for n, m in members.items() if m.isfile()}  # type: ignore[union-attr]
    for name, member in members.items():
        if member.issym():
            target = posixpath.normpath(posixpath.join(posixpath.dirname(name), member.linkname))
            regular[name] = regular[target]
    return regular


def load_layout(name: str) -> tuple[Blobs, dict[str, Any]]:
    """Blobs by digest (as named on disk) and the parsed index.json of an OCI layout."""
    path = SAMPLES / name
    files = tar_files(path) if name.endswith(".tar") else files_under(path)
    blobs = {
        "sha256:" + posixpath.basename(n): data
        for n, data in files.items()
        if n.startswith("blobs/sha256/")
    }
    return blobs, json.loads(files["index.json"])


def load_docker_dir() -> tuple[Blobs, list[dict[str, Any]]]:
    files = files_under(SAMPLES / "docker-dir")
    blobs = {"sha256:" + n: data for n, data in files.items() if len(n) == 64}
    return blobs, [json.loads(files["manifest.json"])]


def manifests_of(
    blobs: Blobs, descriptors: Iterable[dict[str, Any]], missing: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Image manifests reachable from `descriptors`; absent blobs are appended to `missing`."""
    found: list[dict[str, Any]] = []
    for desc in descriptors:
        if desc["digest"] not in blobs:
            missing.append(desc)
        elif desc["mediaType"] in INDEX_TYPES:
            found += manifests_of(blobs, json.loads(blobs[desc["digest"]])["manifests"], missing)
        else:
            found.append(json.loads(blobs[desc["digest"]]))
    return found


def layout_manifests(name: str) -> tuple[Blobs, list[dict[str, Any]], list[dict[str, Any]]]:
    if name == "docker-dir":
        return (*load_docker_dir(), [])
    blobs, index = load_layout(name)
    missing: list[dict[str, Any]] = []
    manifests = manifests_of(blobs, index["manifests"], missing)
    for manifest in manifests:
        referenced = [manifest["config"], *manifest["layers"]]
        missing += [desc for desc in referenced if desc["digest"] not in blobs]
    return blobs, manifests, missing


def is_filesystem_layer(media_type: str) -> bool:
    """False for attestation, signature and SBOM payloads, which carry no diff_id."""
    return ".layer.v1.tar" in media_type or ".rootfs." in media_type


def uncompressed_layer(media_type: str, blob: bytes) -> bytes:
    if media_type.endswith("gzip"):
        return gzip.decompress(blob)
    if media_type.endswith("zstd"):
        return zstandard.ZstdDecompressor().decompress(blob)
    return blob


@pytest.mark.parametrize("name", [*LAYOUT_DIRS, *LAYOUT_TARS])
def test_blobs_hash_to_their_names(name: str) -> None:
    blobs, _ = load_layout(name)
    assert blobs
    for digest, data in blobs.items():
        assert sha256(data) == digest


def test_docker_dir_blobs_hash_to_their_names() -> None:
    blobs, _ = load_docker_dir()
    assert len(blobs) == 3
    for digest, data in blobs.items():
        assert sha256(data) == digest


@pytest.mark.parametrize("name", [*LAYOUT_DIRS, *LAYOUT_TARS, "docker-dir"])
def test_config_diff_ids_match_uncompressed_layers(name: str) -> None:
    blobs, manifests, _ = layout_manifests(name)
    checked = 0
    for manifest in manifests:
        config = json.loads(blobs[manifest["config"]["digest"]])
        layers = manifest["layers"]
        if not any(is_filesystem_layer(desc["mediaType"]) for desc in layers):
            continue
        diff_ids = config["rootfs"]["diff_ids"]
        assert len(diff_ids) == len(layers)
        for desc, diff_id in zip(layers, diff_ids, strict=True):
            if desc["digest"] in blobs:  # the foreign Windows layer is not
                layer_tar = uncompressed_layer(desc["mediaType"], blobs[desc["digest"]])
                assert sha256(layer_tar) == diff_id
                checked += 1
    assert checked


@pytest.mark.parametrize("name", [*LAYOUT_DIRS, *LAYOUT_TARS, "docker-dir"])
def test_only_the_intended_blobs_are_absent(name: str) -> None:
    _, _, missing = layout_manifests(name)
    assert [d["mediaType"] for d in missing] == EXPECTED_MISSING.get(name, [])


@pytest.mark.parametrize("name", ["docker-legacy.tar", "docker-25.tar"])
def test_docker_save_layers_match_config(name: str) -> None:
    files = tar_files(SAMPLES / name)
    (entry,) = json.loads(files["manifest.json"])
    config = json.loads(files[entry["Config"]])
    assert [sha256(files[path]) for path in entry["Layers"]] == config["rootfs"]["diff_ids"]
    assert sha256(files[entry["Config"]]).endswith(posixpath.basename(entry["Config"])[:64])


def test_docker_legacy_second_layer_is_a_symlink() -> None:
    with tarfile.open(SAMPLES / "docker-legacy.tar") as tar:
        layer_paths = json.load(tar.extractfile("manifest.json"))[0]["Layers"]  # type: ignore[arg-type]
        first, second = (tar.getmember(path) for path in layer_paths)
    assert first.isfile()
    assert second.issym()
    assert second.linkname.startswith("../")
