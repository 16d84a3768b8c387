"""Interop: an image built by umoci, converted by skopeo, read by ocianalyze's CLI.

Every expected value is computed here from the files umoci and skopeo wrote (json, tarfile,
hashlib, gzip, zstandard); ocianalyze is only ever run as a subprocess and never imported.

The image has two layers written by umoci's two layer writers:

1. ``umoci insert`` of a tree whose last tar entry is block-aligned. umoci 0.4.7 never closes
   the tar writer in ``GenerateInsertLayer`` (opencontainers/umoci#436, fixed by #534), so the
   layer tar lacks its two end-of-archive blocks and ends exactly at an entry boundary:
   ocianalyze's documented ``missing_end_of_archive`` warning.
2. ``umoci unpack --rootless`` / ``umoci repack`` (with a whiteout): a well-formed tar.

A second image (``umoci insert`` whose last file is 6 bytes long) shows the other face of the
same umoci bug: the last entry's data is complete but its padding is missing too.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

BLOCK = 512
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
DOCKER_ARCHIVE_TAG = "example/img:1.0"
# Header-only tar types: their size field never counts data bytes.
HEADER_ONLY = frozenset(b"123456")

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(
        shutil.which("skopeo") is None or shutil.which("umoci") is None,
        reason="interop tests need skopeo and umoci on PATH",
    ),
]


# --------------------------------------------------------------------------- running tools


def tool(*argv: str | Path, env: dict[str, str] | None = None) -> str:
    """Run skopeo/umoci/...; fail the test with their stderr if they fail."""
    proc = subprocess.run(
        [str(a) for a in argv], capture_output=True, timeout=60, check=False, env=env
    )
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(map(str, argv))} exited {proc.returncode}: {proc.stderr.decode()}")
    return proc.stdout.decode()


def snapshot(path: Path) -> dict[str, tuple[Any, ...]]:
    """Every entry under ``path`` (or ``path`` itself): type, mode, mtime and content hash."""
    entries = [path] if not path.is_dir() else [path, *sorted(path.rglob("*"))]
    state: dict[str, tuple[Any, ...]] = {}
    for p in entries:
        st = p.lstat()
        if stat.S_ISREG(st.st_mode):
            content = hashlib.sha256(p.read_bytes()).hexdigest()
        elif stat.S_ISLNK(st.st_mode):
            content = str(p.readlink())
        else:
            content = None
        state[str(p.relative_to(path.parent))] = (st.st_mode, st.st_mtime_ns, st.st_size, content)
    return state


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def ocianalyze(*args: str, target: Path, stdin: bool = False) -> CliResult:
    """``python -m ocianalyze ARGS TARGET`` (or ``ARGS - < TARGET``); asserts TARGET unchanged."""
    before = snapshot(target)
    if stdin:
        with target.open("rb") as fh:
            proc = subprocess.run(
                [sys.executable, "-m", "ocianalyze", *args, "-"],
                stdin=fh,
                capture_output=True,
                timeout=60,
                check=False,
            )
    else:
        proc = subprocess.run(
            [sys.executable, "-m", "ocianalyze", *args, str(target)],
            capture_output=True,
            timeout=60,
            check=False,
        )
    assert snapshot(target) == before, f"ocianalyze {' '.join(args)} modified {target}"
    return CliResult(proc.returncode, proc.stdout.decode(), proc.stderr.decode())


# --------------------------------------------------------------------------- independent truth


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def decompress(data: bytes) -> tuple[str, bytes]:
    if data[:2] == GZIP_MAGIC:
        return "gzip", gzip.decompress(data)
    if data[:4] == ZSTD_MAGIC:
        zstandard = pytest.importorskip("zstandard")
        with zstandard.ZstdDecompressor().stream_reader(
            io.BytesIO(data), read_across_frames=True
        ) as reader:
            return "zstd", reader.read()
    return "none", data


def tar_ending(raw: bytes) -> str:
    """How a tar stream ends, by walking its headers by hand (tarfile hides the difference).

    "end_marker": two zero blocks; "entry_boundary": right after an entry, no end marker;
    "unpadded": right after the last entry's data, its padding to 512 bytes missing;
    "truncated": inside a header or inside file data.
    """
    offset = 0
    while True:
        if offset == len(raw):
            return "entry_boundary"
        header = raw[offset : offset + BLOCK]
        if len(header) < BLOCK:
            return "truncated"
        if header == bytes(BLOCK):
            return (
                "end_marker" if raw[offset + BLOCK : offset + 2 * BLOCK] == header else "truncated"
            )
        size = 0 if header[156] in HEADER_ONLY else int(header[124:136].strip(b"\0 ") or b"0", 8)
        data_end = offset + BLOCK + size
        offset = data_end + (-size % BLOCK)
        if offset > len(raw):
            return "unpadded" if data_end == len(raw) else "truncated"


@dataclass
class LayerTruth:
    digest: str
    media_type: str
    size: int
    compression: str
    diff_id: str
    uncompressed_size: int
    ending: str
    files: int
    file_bytes: int
    disk_bytes: int
    whiteouts: int


def layer_truth(digest: str, media_type: str, stored: bytes) -> LayerTruth:
    compression, raw = decompress(stored)
    ending = tar_ending(raw)
    assert ending != "truncated", f"{digest} is a truncated tar"
    files = file_bytes = disk_bytes = whiteouts = 0
    # tarfile refuses a last entry without its padding; the counts do not depend on it.
    padded = raw + bytes(-len(raw) % BLOCK)
    with tarfile.open(fileobj=io.BytesIO(padded)) as tf:
        for member in tf:
            if member.name.rstrip("/").rsplit("/", 1)[-1].startswith(".wh."):
                whiteouts += 1
            elif member.isreg():
                files += 1
                file_bytes += member.size
                disk_bytes += -(-member.size // 4096) * 4096
            elif member.isdir():
                disk_bytes += 4096
    return LayerTruth(
        digest=digest,
        media_type=media_type,
        size=len(stored),
        compression=compression,
        diff_id=sha256(raw),
        uncompressed_size=len(raw),
        ending=ending,
        files=files,
        file_bytes=file_bytes,
        disk_bytes=disk_bytes,
        whiteouts=whiteouts,
    )


@dataclass
class ImageTruth:
    refs: list[str]
    manifest_digest: str | None
    manifest_media_type: str | None
    config_digest: str
    config: dict[str, Any]
    layers: list[LayerTruth] = field(default_factory=list)


CONFIG_TO_MANIFEST_TYPE = {
    "application/vnd.oci.image.config.v1+json": "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.container.image.v1+json": (
        "application/vnd.docker.distribution.manifest.v2+json"
    ),
}


def guess_manifest_type(manifest: dict[str, Any]) -> str:
    """A manifest with no descriptor around it (skopeo dir:): its own mediaType, else what its
    config's media type implies (umoci writes OCI manifests without the optional mediaType)."""
    if "mediaType" in manifest:
        return manifest["mediaType"]
    return CONFIG_TO_MANIFEST_TYPE[manifest["config"]["mediaType"]]


def oci_image_truth(
    manifest_bytes: bytes,
    manifest_digest: str,
    manifest_media_type: str | None,
    refs: list[str],
    read_blob: Callable[[str], bytes],
) -> ImageTruth:
    assert sha256(manifest_bytes) == manifest_digest, "the manifest is not stored under its digest"
    manifest = json.loads(manifest_bytes)
    config_bytes = read_blob(manifest["config"]["digest"])
    assert sha256(config_bytes) == manifest["config"]["digest"]
    layers = []
    for desc in manifest["layers"]:
        stored = read_blob(desc["digest"])
        assert (sha256(stored), len(stored)) == (desc["digest"], desc["size"])
        layers.append(layer_truth(desc["digest"], desc["mediaType"], stored))
    return ImageTruth(
        refs=refs,
        manifest_digest=manifest_digest,
        manifest_media_type=manifest_media_type or guess_manifest_type(manifest),
        config_digest=manifest["config"]["digest"],
        config=json.loads(config_bytes),
        layers=layers,
    )


def from_index(index: dict[str, Any], read_blob: Callable[[str], bytes]) -> ImageTruth:
    [desc] = index["manifests"]
    ref = desc.get("annotations", {}).get("org.opencontainers.image.ref.name")
    return oci_image_truth(
        read_blob(desc["digest"]),
        desc["digest"],
        desc["mediaType"],
        [ref] if ref else [],
        read_blob,
    )


def truth_oci_layout(layout: Path) -> ImageTruth:
    def read_blob(digest: str) -> bytes:
        algorithm, hexpart = digest.split(":")
        return (layout / "blobs" / algorithm / hexpart).read_bytes()

    return from_index(json.loads((layout / "index.json").read_bytes()), read_blob)


def _member_bytes(tf: tarfile.TarFile, name: str) -> bytes:
    fh = tf.extractfile(name)
    assert fh is not None, f"{name} is not a file in the archive"
    return fh.read()


def truth_oci_archive(archive: Path) -> ImageTruth:
    with tarfile.open(archive) as tf:
        return from_index(
            json.loads(_member_bytes(tf, "index.json")),
            lambda d: _member_bytes(tf, "blobs/" + d.replace(":", "/")),
        )


def truth_docker_dir(directory: Path) -> ImageTruth:
    manifest_bytes = (directory / "manifest.json").read_bytes()
    return oci_image_truth(
        manifest_bytes,
        sha256(manifest_bytes),
        None,
        [],
        lambda d: (directory / d.split(":")[1]).read_bytes(),
    )


def truth_docker_archive(archive: Path) -> ImageTruth:
    opener = gzip.open if archive.read_bytes()[:2] == GZIP_MAGIC else open
    with opener(archive, "rb") as fh, tarfile.open(fileobj=io.BytesIO(fh.read())) as tf:
        [entry] = json.loads(_member_bytes(tf, "manifest.json"))
        config_bytes = _member_bytes(tf, entry["Config"])
        layers = []
        for name in entry["Layers"]:
            stored = _member_bytes(tf, name)
            layers.append(
                layer_truth(sha256(stored), "application/vnd.docker.image.rootfs.diff.tar", stored)
            )
    return ImageTruth(
        refs=entry["RepoTags"],
        manifest_digest=None,
        manifest_media_type=None,
        config_digest=sha256(config_bytes),
        config=json.loads(config_bytes),
        layers=layers,
    )


# --------------------------------------------------------------------------- building images


@dataclass
class Export:
    path: Path
    format: str
    truth: ImageTruth
    stdin: bool = False


@dataclass
class Built:
    layout: Path
    source: ImageTruth
    exports: dict[str, Export]
    skipped: dict[str, str]


def umoci_image(tmp: Path, cmd: str, layers: list[Callable[[Path], None]]) -> Path:
    """``umoci init``/``new``, then each function in ``layers`` adds one layer to tag ``base``."""
    layout = tmp / "umoci-layout"
    tool("umoci", "init", "--layout", layout)
    tool("umoci", "new", "--image", f"{layout}:base")
    for add_layer in layers:
        add_layer(layout)
    tool("umoci", "config", "--image", f"{layout}:base", "--config.cmd", cmd)
    return layout


def insert_tree(files: dict[str, bytes], target: str) -> Callable[[Path], None]:
    def add(layout: Path) -> None:
        src = layout.parent / ("insert-src" + target.replace("/", "-"))
        for rel, data in files.items():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            (src / rel).write_bytes(data)
        tool("umoci", "insert", "--rootless", "--image", f"{layout}:base", src, target)

    return add


def repack(change: Callable[[Path], None]) -> Callable[[Path], None]:
    def add(layout: Path) -> None:
        bundle = layout.parent / "bundle"
        tool("umoci", "unpack", "--rootless", "--image", f"{layout}:base", bundle)
        change(bundle / "rootfs")
        tool("umoci", "repack", "--image", f"{layout}:base", bundle)
        shutil.rmtree(bundle)

    return add


def add_script_remove_hello(rootfs: Path) -> None:
    (rootfs / "bin").mkdir()
    (rootfs / "bin" / "hi").write_bytes(b"#!/bin/sh\necho hi\n")
    (rootfs / "bin" / "hi").chmod(0o755)
    (rootfs / "opt" / "app" / "etc" / "hello.txt").unlink()  # becomes a whiteout


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    tmp = tmp_path_factory.mktemp("interop")
    layout = umoci_image(
        tmp,
        "/bin/hi",
        [
            # z.bin sorts last and is 1024 bytes: the insert layer ends on a block boundary.
            insert_tree({"etc/hello.txt": b"hello\n", "z.bin": bytes(range(256)) * 4}, "/opt/app"),
            repack(add_script_remove_hello),
        ],
    )
    source = truth_oci_layout(layout)
    assert source.config["config"]["Cmd"] == ["/bin/hi"]
    assert len(source.layers) == 2

    # skopeo: no policy.json, no registries, scratch files in our tmp dir.
    env = {**os.environ, "TMPDIR": str(tmp)}
    copy = ("skopeo", "copy", "--quiet", "--insecure-policy")
    src = f"oci:{layout}:base"
    out = tmp / "out"
    out.mkdir()
    exports = {"umoci-oci-layout": Export(layout, "oci-layout", source)}
    skipped: dict[str, str] = {}

    docker_tar = out / "docker.tar"
    tool(*copy, src, f"docker-archive:{docker_tar}:{DOCKER_ARCHIVE_TAG}", env=env)
    exports["docker-archive"] = Export(
        docker_tar, "docker-archive", truth_docker_archive(docker_tar)
    )

    docker_gz = out / "docker.tar.gz"
    docker_gz.write_bytes(gzip.compress(docker_tar.read_bytes()))
    gz_truth = truth_docker_archive(docker_gz)
    exports["docker-archive-gz"] = Export(docker_gz, "docker-archive", gz_truth)
    exports["docker-archive-gz-stdin"] = Export(docker_gz, "docker-archive", gz_truth, stdin=True)

    oci_tar = out / "oci.tar"
    tool(*copy, src, f"oci-archive:{oci_tar}:tag", env=env)
    exports["oci-archive"] = Export(oci_tar, "oci-archive", truth_oci_archive(oci_tar))

    dir_out = out / "dir"
    tool(*copy, src, f"dir:{dir_out}", env=env)
    exports["docker-dir"] = Export(dir_out, "docker-dir", truth_docker_dir(dir_out))

    zdir = out / "zstd-layout"
    proc = subprocess.run(
        [*copy, "--dest-compress-format", "zstd", src, f"oci:{zdir}:tag"],
        capture_output=True,
        timeout=60,
        check=False,
        env=env,
    )
    if proc.returncode == 0:
        exports["zstd-oci-layout"] = Export(zdir, "oci-layout", truth_oci_layout(zdir))
    else:
        skipped["zstd-oci-layout"] = f"skopeo cannot write zstd layers: {proc.stderr.decode()}"
    return Built(layout, source, exports, skipped)


EXPORTS = [
    "umoci-oci-layout",
    "docker-archive",
    "docker-archive-gz",
    "docker-archive-gz-stdin",
    "oci-archive",
    "docker-dir",
    "zstd-oci-layout",
]


@pytest.fixture(params=EXPORTS)
def export(request: pytest.FixtureRequest, built: Built) -> Export:
    if request.param in built.skipped:
        pytest.skip(built.skipped[request.param])
    return built.exports[request.param]


# --------------------------------------------------------------------------- what skopeo wrote


def test_umoci_wrote_both_layer_endings(built: Built) -> None:
    """The fixture exercises what it claims: insert omits the end marker, repack writes it."""
    insert_layer, repack_layer = built.source.layers
    assert insert_layer.ending == "entry_boundary"
    assert repack_layer.ending == "end_marker"
    assert (repack_layer.files, repack_layer.whiteouts) == (1, 1)


def test_skopeo_keeps_config_and_layer_tars(built: Built) -> None:
    """No transport rewrites the config, so every export has the same image ID and diff_ids."""
    source = built.source
    for name, exp in built.exports.items():
        assert exp.truth.config_digest == source.config_digest, name
        assert exp.truth.config["rootfs"]["diff_ids"] == [lt.diff_id for lt in source.layers]
        assert [lt.diff_id for lt in exp.truth.layers] == [lt.diff_id for lt in source.layers]
        assert [lt.ending for lt in exp.truth.layers] == [lt.ending for lt in source.layers]

    docker = built.exports["docker-archive"].truth
    # docker-archive stores the uncompressed tars: their digests are the diff_ids.
    assert [lt.digest for lt in docker.layers] == docker.config["rootfs"]["diff_ids"]
    assert [lt.compression for lt in docker.layers] == ["none", "none"]
    # skopeo normalises the reference it writes into RepoTags.
    assert docker.refs == [f"docker.io/{DOCKER_ARCHIVE_TAG}"]

    # oci-archive and dir: copy the gzip blobs and the manifest byte for byte.
    for name in ("oci-archive", "docker-dir"):
        assert built.exports[name].truth.manifest_digest == source.manifest_digest, name
        assert [lt.digest for lt in built.exports[name].truth.layers] == [
            lt.digest for lt in source.layers
        ]

    if "zstd-oci-layout" in built.exports:
        zstd = built.exports["zstd-oci-layout"].truth
        assert zstd.manifest_digest != source.manifest_digest
        assert [lt.compression for lt in zstd.layers] == ["zstd", "zstd"]
        assert all(lt.media_type.endswith("+zstd") for lt in zstd.layers)


# --------------------------------------------------------------------------- ocianalyze


def expected_layers_json(truth: ImageTruth) -> list[dict[str, Any]]:
    return [{"digest": lt.digest, "size": lt.size} for lt in truth.layers]


def test_inspect(export: Export, built: Built) -> None:
    result = ocianalyze("inspect", "--format", "json", target=export.path, stdin=export.stdin)
    assert result.code == 0, result.err
    doc = result.json()
    truth = export.truth
    assert doc["schema_version"] == 2
    assert doc["source"] == {
        "path": "-" if export.stdin else str(export.path),
        "format": export.format,
    }
    assert doc["problems"] == []
    assert doc["absent"] == []
    [image] = doc["images"]
    assert image["kind"] == "image"
    assert image["refs"] == truth.refs
    # Read from the umoci layout's index.json -> manifest, not from the export.
    assert image["config_digest"] == built.source.config_digest == truth.config_digest
    assert image["created"] == truth.config["created"]
    assert image["platform"] == {
        "os": truth.config["os"],
        "architecture": truth.config["architecture"],
        "variant": truth.config.get("variant"),
    }
    assert image["manifest_digest"] == truth.manifest_digest
    assert image["manifest_media_type"] == truth.manifest_media_type
    assert image["index_digest"] is None
    assert len(image["layers"]) == len(built.source.layers) == 2
    if export.format == "docker-archive":
        assert [(la["digest"], la["size"]) for la in image["layers"]] == [
            (lt.digest, lt.size) for lt in truth.layers
        ]
        assert [la["digest"] for la in image["layers"]] == truth.config["rootfs"]["diff_ids"]
    else:
        assert image["layers"] == [
            {"digest": lt.digest, "media_type": lt.media_type, "size": lt.size}
            for lt in truth.layers
        ]


def expected_notices(truth: ImageTruth) -> list[tuple[str, str, str]]:
    return [
        ("missing_end_of_archive", "notice", lt.digest)
        for lt in truth.layers
        if lt.ending == "entry_boundary"
    ]


def test_verify(export: Export) -> None:
    result = ocianalyze("verify", target=export.path, stdin=export.stdin)
    assert result.code == 0, result.out + result.err
    printed = result.out + result.err
    notices = expected_notices(export.truth)
    if notices:  # notices are summed up in one line; `report` names each layer
        assert f"notices: missing_end_of_archive \u00d7{len(notices)} (see report)\n" in printed
    assert "error:" not in printed and "warning:" not in printed


def test_verify_strict_passes_on_the_umoci_notice(built: Built) -> None:
    """A layer without its end-of-archive blocks unpacks as Go reads it: a notice, which
    --strict does not fail on."""
    export = built.exports["umoci-oci-layout"]
    assert expected_notices(export.truth), "umoci wrote no layer without an end marker"
    result = ocianalyze("verify", "--strict", target=export.path)
    assert result.code == 0, result.err


def test_report(export: Export) -> None:
    result = ocianalyze("report", "--format", "json", target=export.path, stdin=export.stdin)
    assert result.code == 0, result.err
    doc = result.json()
    truth = export.truth
    assert doc["ok"] is True
    assert doc["source"]["format"] == export.format
    problems = sorted((p["kind"], p["severity"], p["digest"]) for p in doc["problems"])
    assert problems == sorted(expected_notices(truth))
    [image] = doc["images"]
    assert image["config_digest"] == truth.config_digest
    assert len(image["layers"]) == len(truth.layers)
    for got, lt in zip(image["layers"], truth.layers, strict=True):
        assert got["digest"] == lt.digest
        assert got["size"] == lt.size
        assert got["compression"] == lt.compression
        assert got["diff_id"] == lt.diff_id
        assert got["uncompressed_size"] == lt.uncompressed_size
        assert got["files"] == lt.files
        assert got["file_bytes"] == lt.file_bytes
        assert got["disk_bytes"] == lt.disk_bytes
        assert got["whiteouts"] == lt.whiteouts
        assert got["verified"] is True
    assert image["totals"] == {
        "size": sum(lt.size for lt in truth.layers),
        "uncompressed_size": sum(lt.uncompressed_size for lt in truth.layers),
        "file_bytes": sum(lt.file_bytes for lt in truth.layers),
        "disk_bytes": sum(lt.disk_bytes for lt in truth.layers),
    }


# --------------------------------------------------------------------------- umoci#436 layers


@pytest.fixture(scope="module")
def unpadded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ImageTruth]:
    """``umoci insert`` of a tree whose last file is 6 bytes: its 506 padding bytes are missing."""
    tmp = tmp_path_factory.mktemp("unpadded")
    layout = umoci_image(tmp, "/data/hi", [insert_tree({"hello.txt": b"hello\n"}, "/data")])
    truth = truth_oci_layout(layout)
    if truth.layers[0].ending != "unpadded":
        pytest.skip(f"this umoci writes a layer ending {truth.layers[0].ending!r}, not unpadded")
    return layout, truth


def test_unpadded_umoci_layer_is_complete_and_go_reads_it(
    unpadded: tuple[Path, ImageTruth],
) -> None:
    """Every file byte is there, umoci's own Go tar reader unpacks it, and inspect and the
    measurements in report are right even so."""
    layout, truth = unpadded
    [layer] = truth.layers
    assert layer.uncompressed_size % BLOCK == len(b"hello\n")
    bundle = layout.parent / "bundle"
    tool("umoci", "unpack", "--rootless", "--image", f"{layout}:base", bundle)
    assert (bundle / "rootfs" / "data" / "hello.txt").read_bytes() == b"hello\n"

    inspected = ocianalyze("inspect", "--format", "json", target=layout)
    assert inspected.code == 0, inspected.err
    [image] = inspected.json()["images"]
    assert image["config_digest"] == truth.config_digest
    assert image["layers"] == [
        {"digest": layer.digest, "media_type": layer.media_type, "size": layer.size}
    ]

    reported = ocianalyze("report", "--format", "json", target=layout)
    [got] = reported.json()["images"][0]["layers"]
    assert (got["diff_id"], got["uncompressed_size"]) == (layer.diff_id, layer.uncompressed_size)


def test_verify_accepts_unpadded_umoci_layer(unpadded: tuple[Path, ImageTruth]) -> None:
    layout, truth = unpadded
    verified = ocianalyze("verify", target=layout)
    reported = ocianalyze("report", "--format", "json", target=layout)
    doc = reported.json()
    assert [p for p in doc["problems"] if p["severity"] == "error"] == []
    assert doc["ok"] is True
    assert doc["images"][0]["layers"][0]["verified"] is True
    assert doc["images"][0]["layers"][0]["files"] == 1
    assert verified.code == 0, verified.err
    assert truth.layers[0].ending == "unpadded"
