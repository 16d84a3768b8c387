#!/usr/bin/env python3
"""Write small, deterministic container-image exports for ocianalyze's tests and demos.

Usage: make_samples.py OUTDIR

Every run writes byte-for-byte identical output. Only the standard library and
zstandard are used -- never ocianalyze itself -- so a reader bug cannot hide behind
a matching writer bug. Only the sample outputs named in SAMPLES are removed and
rewritten; anything else in OUTDIR (this script, README.md) is left alone.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import struct
import sys
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zstandard

MTIME = 1700000000  # file-entry mtime in every tar
CREATED = "2024-01-15T10:00:00Z"  # image and history creation time
DOCKER_VERSION = "24.0.7"

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
IN_TOTO = "application/vnd.in-toto+json"
COSIGN_SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SPDX_JSON = "application/spdx+json"

REF_NAME = "org.opencontainers.image.ref.name"
LINUX_ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
LINUX_CMD_HISTORY = '/bin/sh -c #(nop)  CMD ["bash"]'
WINDOWS_VERSION = "10.0.17763.5329"

AMD64 = {"architecture": "amd64", "os": "linux"}
ARM64 = {"architecture": "arm64", "os": "linux"}
ARM64_V8 = {"architecture": "arm64", "os": "linux", "variant": "v8"}
S390X = {"architecture": "s390x", "os": "linux"}
WINDOWS_AMD64 = {"architecture": "amd64", "os": "windows", "os.version": WINDOWS_VERSION}
UNKNOWN_PLATFORM = {"architecture": "unknown", "os": "unknown"}

# Field order of Go's image-spec Descriptor struct, so descriptors look tool-written.
DESCRIPTOR_ORDER = (
    "mediaType", "digest", "size", "urls", "annotations", "platform", "artifactType",
)  # fmt: skip

Files = dict[str, bytes]  # relative path -> content of a directory-shaped sample


# ---------------------------------------------------------------- encoding helpers


def dumps(obj: Any) -> bytes:
    """Compact JSON in the key order the code built it, as Go's encoding/json writes it."""
    return json.dumps(obj, separators=(",", ":")).encode()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def hex_of(digest: str) -> str:
    return digest.split(":", 1)[1]


def gzip_bytes(data: bytes) -> bytes:
    """One gzip member with header mtime 0, no name, XFL 0 and OS 255, as Go writes it.

    The header is built by hand because gzip.compress's header bytes differ between
    Python versions; only the deflate stream depends on the zlib build.
    """
    deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
    body = deflate.compress(data) + deflate.flush()
    header = b"\x1f\x8b\x08\x00" + struct.pack("<I", 0) + b"\x00\xff"
    return header + body + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def zstd_bytes(data: bytes) -> bytes:
    # Content size and checksum in the frame, like the zstd CLI and containerd write.
    compressor = zstandard.ZstdCompressor(level=3, write_content_size=True, write_checksum=True)
    return compressor.compress(data)


def compress_for(media_type: str) -> Callable[[bytes], bytes]:
    if media_type.endswith("gzip"):
        return gzip_bytes
    if media_type.endswith("+zstd"):
        return zstd_bytes
    return bytes


# ---------------------------------------------------------------- tar writer

REGTYPE, LNKTYPE, SYMTYPE, DIRTYPE = b"0", b"1", b"2", b"5"


@dataclass(frozen=True)
class Entry:
    """One tar member; directory names carry no trailing slash (added when written)."""

    name: str
    kind: bytes = REGTYPE
    data: bytes = b""
    link: str = ""
    mode: int = 0o644


def reg(name: str, data: bytes, mode: int = 0o644) -> Entry:
    return Entry(name, REGTYPE, data, mode=mode)


def directory(name: str) -> Entry:
    return Entry(name, DIRTYPE, mode=0o755)


def symlink(name: str, target: str) -> Entry:
    return Entry(name, SYMTYPE, link=target, mode=0o777)


def hardlink(name: str, target: str) -> Entry:
    return Entry(name, LNKTYPE, link=target)


def octal(value: int, width: int) -> bytes:
    return b"%0*o\0" % (width - 1, value)


def text_field(value: str, width: int) -> bytes:
    raw = value.encode()
    if len(raw) > width:
        raise ValueError(f"tar field too long: {value!r}")
    return raw.ljust(width, b"\0")


def tar_header(entry: Entry) -> bytes:
    """A ustar header written by hand: tarfile's bytes vary across Python releases."""
    name = entry.name + "/" if entry.kind == DIRTYPE else entry.name
    fields = [
        text_field(name, 100), octal(entry.mode, 8), octal(0, 8), octal(0, 8),
        octal(len(entry.data), 12), octal(MTIME, 12), b" " * 8, entry.kind,
        text_field(entry.link, 100), b"ustar\x0000", text_field("root", 32),
        text_field("root", 32), octal(0, 8), octal(0, 8), b"\0" * 155,
    ]  # fmt: skip
    block = b"".join(fields).ljust(512, b"\0")
    checksum = b"%06o\0 " % sum(block)
    return block[:148] + checksum + block[156:]


def make_tar(entries: Iterable[Entry]) -> bytes:
    """Entries sorted by name, fixed metadata, two zero blocks at the end (as Go writes)."""
    out = bytearray()
    seen: set[str] = set()
    for entry in sorted(entries, key=lambda e: e.name):
        if entry.kind == LNKTYPE and entry.link not in seen:
            raise ValueError(f"hardlink {entry.name} precedes its target {entry.link}")
        seen.add(entry.name)
        out += tar_header(entry) + entry.data + b"\0" * (-len(entry.data) % 512)
    return bytes(out + b"\0" * 1024)


def tree_entries(files: Files) -> list[Entry]:
    """Regular-file entries for `files` plus a directory entry for every parent."""
    dirs = {"/".join(path.split("/")[:i]) for path in files for i in range(1, path.count("/") + 1)}
    return [directory(d) for d in dirs] + [reg(path, data) for path, data in files.items()]


# ---------------------------------------------------------------- file contents

WORDS = (
    "layer", "image", "digest", "config", "manifest", "index", "blob", "tar", "gzip",
    "zstd", "platform", "amd64", "arm64", "linux", "root", "etc", "usr", "bin", "lib",
    "package", "version", "install", "update", "cache", "state", "sample", "data",
)  # fmt: skip


def text(rng: random.Random, size: int) -> bytes:
    """Compressible pseudo-random text of exactly `size` bytes."""
    out = bytearray()
    while len(out) < size:
        out += " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12))).encode() + b"\n"
    return bytes(out[:size])


def noise(rng: random.Random, size: int) -> bytes:
    """Incompressible bytes standing in for executables."""
    return rng.randbytes(size)


def os_release(version: str) -> bytes:
    return f'PRETTY_NAME="Sample Linux {version}"\nID=sample\nVERSION_ID={version}\n'.encode()


def base_entries(seed: str) -> list[Entry]:
    """A small Linux root filesystem; file sizes vary with the seed."""
    rng = random.Random(seed)
    return [
        directory("etc"), directory("usr"), directory("usr/bin"), directory("usr/lib"),
        reg("etc/os-release", os_release("1.0")),
        reg("etc/hostname", seed.encode() + b"\n"),
        reg("usr/bin/busybox", noise(rng, rng.randint(5000, 9000)), 0o755),
        reg("usr/lib/libc.so.6", noise(rng, rng.randint(2000, 4000)), 0o755),
        reg("usr/lib/os-notes.txt", text(rng, rng.randint(6000, 12000))),
    ]  # fmt: skip


def app_entries(seed: str, app: str) -> list[Entry]:
    """An application layer under opt/<app>."""
    rng = random.Random(seed)
    root = f"opt/{app}"
    return [
        directory("opt"), directory(root), directory(f"{root}/bin"),
        reg(f"{root}/bin/{app}", noise(rng, rng.randint(3000, 7000)), 0o755),
        reg(f"{root}/config.json", dumps({"name": app, "seed": seed}) + b"\n"),
        reg(f"{root}/README.md", text(rng, rng.randint(2000, 5000))),
    ]  # fmt: skip


# ---------------------------------------------------------------- layers and images


@dataclass(frozen=True)
class Layer:
    tar: bytes  # the uncompressed layer tar: its digest is the diff_id
    media_type: str
    created_by: str
    urls: tuple[str, ...] = ()  # foreign layer: referenced by URL, blob not stored

    @property
    def diff_id(self) -> str:
        return sha256(self.tar)

    @property
    def blob(self) -> bytes:
        return compress_for(self.media_type)(self.tar)


def make_layer(entries: Iterable[Entry], media_type: str, created_by: str = "") -> Layer:
    """A layer; without `created_by` it reads like a base image's ADD instruction."""
    tar = make_tar(entries)
    created_by = created_by or f"/bin/sh -c #(nop) ADD file:{hex_of(sha256(tar))} in / "
    return Layer(tar, media_type, created_by)


def descriptor(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return extend({"mediaType": media_type, "digest": sha256(data), "size": len(data)}, **extra)


def extend(desc: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """`desc` plus `extra`, fields in image-spec order."""
    merged = {**desc, **extra}
    return {key: merged[key] for key in DESCRIPTOR_ORDER if key in merged}


class Blobs(dict[str, bytes]):
    """Content-addressed blob store: digest -> bytes."""

    def put(self, media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
        desc = descriptor(media_type, data, **extra)
        self[desc["digest"]] = data
        return desc


def history(layers: list[Layer], cmd_history: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = [
        {"created": CREATED, "created_by": la.created_by} for la in layers
    ]
    return [*entries, {"created": CREATED, "created_by": cmd_history, "empty_layer": True}]


def image_config(
    platform: dict[str, str],
    layers: list[Layer],
    *,
    docker_version: bool = False,
    env: tuple[str, ...] = tuple(LINUX_ENV),
    cmd: tuple[str, str] = ("bash", LINUX_CMD_HISTORY),
) -> bytes:
    """Image config in Docker's (alphabetical) field order; `cmd` is (argv0, history line)."""
    config: dict[str, Any] = {
        "architecture": platform["architecture"],
        "config": {"Env": list(env), "Cmd": [cmd[0]]},
        "created": CREATED,
    }
    if docker_version:  # classic `docker build` records it; BuildKit does not
        config["docker_version"] = DOCKER_VERSION
    config["history"] = history(layers, cmd[1])
    config["os"] = platform["os"]
    if "os.version" in platform:
        config["os.version"] = platform["os.version"]
    config["rootfs"] = {"type": "layers", "diff_ids": [la.diff_id for la in layers]}
    if "variant" in platform:
        config["variant"] = platform["variant"]
    return dumps(config)


def put_layer(blobs: Blobs, layer: Layer) -> dict[str, Any]:
    if layer.urls:  # foreign layers are never shipped with the image
        return descriptor(layer.media_type, layer.blob, urls=list(layer.urls))
    return blobs.put(layer.media_type, layer.blob)


def manifest_json(
    config: dict[str, Any],
    layers: list[dict[str, Any]],
    artifact_type: str = "",
    subject: dict[str, Any] | None = None,
) -> bytes:
    """An image manifest, Docker schema2 when the config is Docker's, else OCI."""
    media_type = DOCKER_MANIFEST if config["mediaType"] == DOCKER_CONFIG else OCI_MANIFEST
    manifest: dict[str, Any] = {"schemaVersion": 2, "mediaType": media_type}
    if artifact_type:
        manifest["artifactType"] = artifact_type
    manifest.update(config=config, layers=layers)
    if subject:
        manifest["subject"] = subject
    return dumps(manifest)


def put_image(
    blobs: Blobs,
    platform: dict[str, str],
    layers: list[Layer],
    *,
    schema2: bool = False,
    **cfg: Any,
) -> dict[str, Any]:
    """Store config, layers and manifest; return the manifest's descriptor."""
    config_type = DOCKER_CONFIG if schema2 else OCI_CONFIG
    config = blobs.put(config_type, image_config(platform, layers, **cfg))
    manifest = manifest_json(config, [put_layer(blobs, la) for la in layers])
    return blobs.put(DOCKER_MANIFEST if schema2 else OCI_MANIFEST, manifest)


def index_json(manifests: list[dict[str, Any]]) -> bytes:
    return dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests})


def layout_files(blobs: Blobs, manifests: list[dict[str, Any]]) -> Files:
    """An OCI image layout: oci-layout, index.json and blobs/sha256/<hex>."""
    files = {f"blobs/sha256/{hex_of(d)}": data for d, data in sorted(blobs.items())}
    files["index.json"] = index_json(manifests)
    files["oci-layout"] = dumps({"imageLayoutVersion": "1.0.0"})
    return files


def ref(desc: dict[str, Any], name: str, **extra: Any) -> dict[str, Any]:
    return extend(desc, annotations={REF_NAME: name}, **extra)


# ---------------------------------------------------------------- samples 1-7


def oci_layout_layers() -> list[Layer]:
    """Base, update (hardlink, symlink, overwrite), cleanup (whiteout, opaque dir)."""
    rng = random.Random("oci-layout/base")
    base = [
        directory("etc"), directory("usr"), directory("usr/bin"), directory("var"),
        directory("var/lib"), directory("var/lib/dpkg"),
        reg("etc/hostname", b"sample\n"), reg("etc/machine-id", b""),  # empty file
        reg("etc/motd", text(rng, 517)), reg("etc/os-release", os_release("1.0")),
        reg("usr/bin/busybox", noise(rng, 9000), 0o755),  # > 4096 bytes
        reg("usr/bin/env", noise(rng, 1234), 0o755),
        reg("var/lib/dpkg/status", text(rng, 4096)),  # exactly one 4 KiB block
        reg("var/lib/dpkg/available", text(rng, 20011)),
    ]  # fmt: skip
    rng = random.Random("oci-layout/update")
    update = [
        directory("etc"), directory("usr"), directory("usr/bin"),
        reg("etc/os-release", os_release("1.1")),  # overwrites the base layer's file
        reg("usr/bin/tool", noise(rng, 5000), 0o755),
        hardlink("usr/bin/tool-alias", "usr/bin/tool"),
        symlink("usr/bin/sh", "busybox"),
    ]  # fmt: skip
    cleanup = [
        directory("etc"), directory("var"), directory("var/lib"), directory("var/lib/app"),
        reg("etc/.wh.motd", b""),  # deletes etc/motd
        reg("var/lib/.wh..wh..opq", b""),  # hides everything below var/lib from lower layers
        reg("var/lib/app/state.json", dumps({"state": "fresh"}) + b"\n"),
    ]  # fmt: skip
    return [
        make_layer(base, OCI_LAYER_GZIP),
        make_layer(update, OCI_LAYER_GZIP, "/bin/sh -c apt-get install -y tool"),
        make_layer(cleanup, OCI_LAYER_GZIP, "/bin/sh -c rm -rf /etc/motd /var/lib/*"),
    ]


def two_layers(seed: str, media_type: str) -> list[Layer]:
    """Base filesystem plus one application layer."""
    return [
        make_layer(base_entries(f"{seed}/base"), media_type),
        make_layer(app_entries(f"{seed}/app", seed), media_type, f"/bin/sh -c make install-{seed}"),
    ]


def sample_oci_layout() -> Files:
    blobs = Blobs()
    manifest = put_image(blobs, AMD64, oci_layout_layers())
    return layout_files(blobs, [ref(manifest, "1.0"), ref(manifest, "latest")])


def sample_oci_zstd() -> Files:
    blobs = Blobs()
    manifest = put_image(blobs, AMD64, two_layers("zstd", OCI_LAYER_ZSTD))
    return layout_files(blobs, [ref(manifest, "zstd")])


def sample_multi_platform() -> Files:
    """Two platform images sharing one base layer blob, behind a nested index."""
    blobs = Blobs()
    base = make_layer(base_entries("multi/base"), OCI_LAYER_GZIP)
    platforms = []
    for platform in (AMD64, ARM64_V8):
        arch = platform["architecture"]
        entries = app_entries(f"multi/{arch}", arch)
        app = make_layer(entries, OCI_LAYER_GZIP, f"/bin/sh -c make {arch}")
        platforms.append(extend(put_image(blobs, platform, [base, app]), platform=platform))
    nested = blobs.put(OCI_INDEX, index_json(platforms))
    return layout_files(blobs, [ref(nested, "multi")])


def legacy_v1_ids(layers: list[Layer]) -> list[str]:
    """Docker-like v1 layer IDs, derived from each layer's chain ID and its parent."""
    ids: list[str] = []
    chain = ""
    for layer in layers:
        chain = sha256(f"{chain} {layer.diff_id}".encode()) if chain else layer.diff_id
        ids.append(hex_of(sha256(dumps({"layer_id": chain, "parent": ids[-1] if ids else ""}))))
    return ids


def legacy_layer_json(v1_id: str, parent: str, top_config: dict[str, Any] | None) -> bytes:
    """The per-layer `json` file: a full v1 image for the top layer, a stub below it."""
    doc: dict[str, Any] = {"id": v1_id}
    if parent:
        doc["parent"] = parent
    if top_config is None:  # docker save dates non-top layers at the Unix epoch
        cmd: Any = None
        doc.update(created="1970-01-01T00:00:00Z")
    else:
        cmd = top_config["config"]["Cmd"]
        doc.update(architecture=top_config["architecture"], config=top_config["config"])
        doc.update(created=CREATED, docker_version=DOCKER_VERSION)
    doc["container_config"] = {"Env": None, "Cmd": cmd}
    doc["os"] = "linux"
    return dumps(doc)


def sample_docker_legacy() -> bytes:
    """docker save before 25: <id>/layer.tar dirs; layer 2 symlinked as skopeo writes it."""
    layers = two_layers("legacy", OCI_LAYER)
    config = image_config(AMD64, layers, docker_version=True)
    ids = legacy_v1_ids(layers)
    top_diff = hex_of(layers[1].diff_id)
    files = {
        f"{hex_of(sha256(config))}.json": config,
        f"{top_diff}.tar": layers[1].tar,
        f"{ids[0]}/layer.tar": layers[0].tar,
        "manifest.json": docker_manifest(f"{hex_of(sha256(config))}.json", "example/legacy:1.0",
                                         [f"{i}/layer.tar" for i in ids]),
        "repositories": dumps({"example/legacy": {"1.0": ids[1]}}) + b"\n",
    }  # fmt: skip
    for i, v1_id in enumerate(ids):
        parent = ids[i - 1] if i else ""
        top = json.loads(config) if i == len(ids) - 1 else None
        files[f"{v1_id}/VERSION"] = b"1.0"
        files[f"{v1_id}/json"] = legacy_layer_json(v1_id, parent, top)
    link = symlink(f"{ids[1]}/layer.tar", f"../{top_diff}.tar")
    return make_tar([*tree_entries(files), link])


def docker_manifest(config: str, tag: str, layers: list[str]) -> bytes:
    """docker save's manifest.json (json.Encoder output, hence the newline)."""
    return dumps([{"Config": config, "RepoTags": [tag], "Layers": layers}]) + b"\n"


def sample_docker_25() -> bytes:
    """docker save from Docker 25+: an OCI layout plus manifest.json and repositories."""
    blobs = Blobs()
    layers = two_layers("modern", OCI_LAYER)
    manifest = put_image(blobs, AMD64, layers, docker_version=True)
    names = {"io.containerd.image.name": "docker.io/example/modern:2.0", REF_NAME: "2.0"}
    files = layout_files(blobs, [extend(manifest, annotations=names)])
    config = json.loads(blobs[manifest["digest"]])["config"]["digest"]
    layer_paths = [f"blobs/sha256/{hex_of(la.diff_id)}" for la in layers]
    config_path = f"blobs/sha256/{hex_of(config)}"
    files["manifest.json"] = docker_manifest(config_path, "example/modern:2.0", layer_paths)
    files["repositories"] = dumps({"example/modern": {"2.0": hex_of(layers[-1].diff_id)}}) + b"\n"
    return make_tar(tree_entries(files))


def sample_oci_archive() -> bytes:
    """skopeo oci-archive: a tarred OCI layout."""
    blobs = Blobs()
    manifest = put_image(blobs, AMD64, two_layers("archive", OCI_LAYER_GZIP))
    return make_tar(tree_entries(layout_files(blobs, [ref(manifest, "archive")])))


def sample_docker_dir() -> Files:
    """skopeo dir: a schema2 manifest.json and blobs named by bare hex digest."""
    blobs = Blobs()
    manifest = put_image(blobs, AMD64, two_layers("dir", DOCKER_LAYER_GZIP), schema2=True)
    files = {"manifest.json": blobs.pop(manifest["digest"])}
    files.update({hex_of(d): data for d, data in sorted(blobs.items())})
    files["version"] = b"Directory Transport Version: 1.1\n"
    return files


# ---------------------------------------------------------------- samples 8-10


def spdx_document(name: str) -> dict[str, Any]:
    return {
        "spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
        "name": name, "creationInfo": {"created": CREATED, "creators": ["Tool: make_samples"]},
        "packages": [{"SPDXID": "SPDXRef-busybox", "name": "busybox", "versionInfo": "1.36.1"}],
    }  # fmt: skip


def put_attestation(
    blobs: Blobs, subject: dict[str, Any], platform: dict[str, str]
) -> dict[str, Any]:
    """A BuildKit SBOM attestation manifest for `subject`, with its index descriptor."""
    arch = platform["architecture"]
    purl = f"pkg:docker/example/attested@1.0?platform=linux%2F{arch}"
    statement = dumps({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://spdx.dev/Document",
        "subject": [{"name": purl, "digest": {"sha256": hex_of(subject["digest"])}}],
        "predicate": spdx_document(f"attested-{arch}"),
    })  # fmt: skip
    layer = blobs.put(
        IN_TOTO, statement, annotations={"in-toto.io/predicate-type": "https://spdx.dev/Document"}
    )
    rootfs = {"type": "layers", "diff_ids": [layer["digest"]]}
    config = blobs.put(OCI_CONFIG, dumps({**UNKNOWN_PLATFORM, "config": {}, "rootfs": rootfs}))
    manifest = blobs.put(OCI_MANIFEST, manifest_json(config, [layer]))
    refs = {
        "vnd.docker.reference.digest": subject["digest"],
        "vnd.docker.reference.type": "attestation-manifest",
    }
    return extend(manifest, annotations=refs, platform=UNKNOWN_PLATFORM)


def put_signature(blobs: Blobs, signed: dict[str, Any]) -> dict[str, Any]:
    """A cosign simple-signing signature manifest for the `signed` descriptor."""
    payload = dumps({
        "critical": {"identity": {"docker-reference": "example/attested"},
                     "image": {"docker-manifest-digest": signed["digest"]},
                     "type": "cosign container image signature"},
        "optional": None,
    })  # fmt: skip
    signature = {"dev.cosignproject.cosign/signature": "MEUCIQ...fake"}
    layer = blobs.put(COSIGN_SIMPLESIGNING, payload, annotations=signature)
    config = blobs.put(OCI_CONFIG, dumps({
        "architecture": "", "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"}], "os": "",
        "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]}, "config": {},
    }))  # fmt: skip
    return blobs.put(OCI_MANIFEST, manifest_json(config, [layer]))


def put_sbom(blobs: Blobs, subject: dict[str, Any]) -> dict[str, Any]:
    """An OCI 1.1 artifact: empty config, one SPDX layer, `subject` pointing at an image."""
    empty = blobs.put(OCI_EMPTY, b"{}")
    layer = blobs.put(SPDX_JSON, dumps(spdx_document("attested-amd64")))
    manifest = manifest_json(empty, [layer], SPDX_JSON, subject)
    return blobs.put(OCI_MANIFEST, manifest, artifactType=SPDX_JSON)


def sample_attestations() -> Files:
    """Multi-platform index with attestations, plus a cosign signature and an SBOM artifact."""
    blobs = Blobs()
    images = []
    for platform in (AMD64, ARM64):
        arch = platform["architecture"]
        layer = make_layer(base_entries(f"attested/{arch}"), OCI_LAYER_GZIP)
        images.append(extend(put_image(blobs, platform, [layer]), platform=platform))
    attestations = [put_attestation(blobs, img, img["platform"]) for img in images]
    index = blobs.put(OCI_INDEX, index_json(images + attestations))
    signature = put_signature(blobs, index)
    sbom = put_sbom(blobs, {k: v for k, v in images[0].items() if k != "platform"})
    return layout_files(blobs, [
        ref(index, "attested"),
        ref(signature, f"sha256-{hex_of(index['digest'])}.sig"),
        ref(sbom, "sbom"),
    ])  # fmt: skip


def windows_layers() -> list[Layer]:
    """A foreign servercore base layer (URL only) and a regular application layer."""
    rng = random.Random("windows/base")
    base = [
        directory("Files"), directory("Files/Windows"), directory("Files/Windows/System32"),
        reg("Files/Windows/System32/kernel32.dll", noise(rng, 7000)),
        reg("Files/Windows/System32/license.rtf", text(rng, 3000)),
        directory("Hives"), reg("Hives/Software_Delta", noise(rng, 2048)),
    ]  # fmt: skip
    rng = random.Random("windows/app")
    app = [
        directory("Files"), directory("Files/app"),
        reg("Files/app/app.exe", noise(rng, 4500)), reg("Files/app/app.config", text(rng, 900)),
    ]  # fmt: skip
    foreign = make_layer(base, DOCKER_FOREIGN_GZIP, f"Apply image {WINDOWS_VERSION}")
    url = f"https://mcr.microsoft.com/v2/windows/servercore/blobs/{sha256(foreign.blob)}"
    copy = "cmd /S /C #(nop) COPY dir:5d4a0c5e in C:\\app "
    return [Layer(foreign.tar, foreign.media_type, foreign.created_by, (url,)),
            make_layer(app, DOCKER_LAYER_GZIP, copy)]  # fmt: skip


def sample_windows_foreign() -> Files:
    blobs = Blobs()
    env = ("PATH=C:\\Windows\\system32;C:\\Windows",)
    cmd = ("cmd.exe", 'cmd /S /C #(nop)  CMD ["cmd.exe"]')
    manifest = put_image(blobs, WINDOWS_AMD64, windows_layers(), schema2=True, env=env, cmd=cmd)
    return layout_files(blobs, [ref(manifest, "windows", platform=WINDOWS_AMD64)])


def sample_partial() -> Files:
    """A three-platform index whose s390x manifest (and all below it) is missing."""
    blobs, missing = Blobs(), Blobs()
    images = []
    for platform, store in ((AMD64, blobs), (ARM64_V8, blobs), (S390X, missing)):
        layer = make_layer(base_entries(f"partial/{platform['architecture']}"), OCI_LAYER_GZIP)
        images.append(extend(put_image(store, platform, [layer]), platform=platform))
    index = blobs.put(OCI_INDEX, index_json(images))
    return layout_files(blobs, [ref(index, "partial")])


def debootstrap_entries() -> list[Entry]:
    """A Debian minbase root as debootstrap leaves it: the setuid/setgid helpers of
    login, passwd and mount, and a man page pair whose names differ only by case."""
    rng = random.Random("debootstrap/base")
    setuid = ["chfn", "chsh", "gpasswd", "mount", "newgrp", "passwd", "su", "umount"]
    setgid = ["usr/bin/chage", "usr/bin/expiry", "usr/sbin/unix_chkpwd"]
    dirs = ["bin", "dev", "etc", "root", "tmp", "usr", "usr/bin", "usr/lib", "usr/sbin",
            "usr/share", "usr/share/man", "usr/share/man/man1", "var", "var/lib",
            "var/lib/dpkg"]  # fmt: skip
    files = [
        reg("etc/debian_version", b"12.5\n"),
        reg("etc/os-release", b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n'),
        reg("etc/passwd", b"root:x:0:0:root:/root:/bin/bash\n"),
        reg("usr/bin/bash", noise(rng, 6000), 0o755),
        reg("usr/share/man/man1/Mail.1.gz", noise(rng, 700)),
        reg("usr/share/man/man1/mail.1.gz", noise(rng, 650)),
        reg("var/lib/dpkg/status", text(rng, 5000)),
        symlink("bin/sh", "../usr/bin/bash"),
    ]
    files += [reg(f"usr/bin/{name}", noise(rng, 900), 0o4755) for name in setuid]
    files += [reg(name, noise(rng, 800), 0o2755) for name in setgid]
    return [directory(d) for d in dirs] + files


def sample_debootstrap() -> Files:
    """One linux/amd64 image of one gzip layer, as docker.io/library/debian is built."""
    blobs = Blobs()
    layer = make_layer(debootstrap_entries(), OCI_LAYER_GZIP)
    manifest = put_image(blobs, AMD64, [layer])
    return layout_files(blobs, [ref(manifest, "bookworm")])


# ---------------------------------------------------------------- output

SAMPLES: dict[str, Callable[[], Files | bytes]] = {
    "oci-layout": sample_oci_layout,
    "oci-zstd": sample_oci_zstd,
    "multi-platform": sample_multi_platform,
    "docker-legacy.tar": sample_docker_legacy,
    "docker-25.tar": sample_docker_25,
    "oci-archive.tar": sample_oci_archive,
    "docker-dir": sample_docker_dir,
    "attestations": sample_attestations,
    "windows-foreign": sample_windows_foreign,
    "partial": sample_partial,
    "debootstrap": sample_debootstrap,
}


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def write(path: Path, content: Files | bytes) -> None:
    if isinstance(content, bytes):
        path.write_bytes(content)
        return
    for rel, data in sorted(content.items()):
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_bytes(data)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(f"usage: {Path(argv[0]).name} OUTDIR", file=sys.stderr)
        return 2
    outdir = Path(argv[1])
    outdir.mkdir(parents=True, exist_ok=True)
    for name, build in SAMPLES.items():
        content = build()  # build first, so a failure leaves the old sample in place
        remove(outdir / name)
        write(outdir / name, content)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
