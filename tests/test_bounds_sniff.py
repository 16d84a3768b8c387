"""Sniff, then name: compressions we recognise and do not read, empty layers, short non-tars.

Inputs are built here with tarfile, gzip, lzma, bz2 and backports.zstd; expected digests come
from hashlib over the bytes we wrote. Go's archive/tar (so Docker and containerd) reads an empty
stream as an empty archive: its diff_id is the sha256 of no bytes.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import lzma
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ocianalyze.compression import UnsupportedCompression, sniff_unsupported
from ocianalyze.errors import Kind
from ocianalyze.mediatypes import Compression
from ocianalyze.walker import BlobScan, scan

from .builders import build_layout, tar_bytes
from .conftest import run_cli

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

EMPTY_SHA = "sha256:" + hashlib.sha256(b"").hexdigest()
TAR = tar_bytes([("etc/motd", b"hello\n"), ("bin/sh", b"\x7fELF" * 300)])
PLAIN = "application/vnd.oci.image.layer.v1.tar"
GZIP_MT = "application/vnd.oci.image.layer.v1.tar+gzip"
ZSTD_MT = "application/vnd.oci.image.layer.v1.tar+zstd"

PACKERS: dict[UnsupportedCompression, Callable[[bytes], bytes]] = {
    UnsupportedCompression.XZ: lambda b: lzma.compress(b, format=lzma.FORMAT_XZ),
    UnsupportedCompression.BZIP2: bz2.compress,
}


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _scan(data: bytes, layer: bool | None) -> BlobScan:
    return scan(io.BytesIO(data), layer=layer)


def test_every_unsupported_compression_has_a_packer() -> None:
    assert set(PACKERS) == set(UnsupportedCompression)


@pytest.mark.parametrize("fmt", list(UnsupportedCompression))
@pytest.mark.parametrize("layer", [True, None])
def test_unsupported_layer_is_named_and_claims_no_diff_id(
    fmt: UnsupportedCompression, layer: bool | None
) -> None:
    packed = PACKERS[fmt](TAR)
    assert sniff_unsupported(packed) is fmt
    result = _scan(packed, layer)
    assert str(result.digest) == _sha(packed)
    assert result.size == len(packed)
    assert result.unsupported is fmt
    assert result.compression is Compression.NONE
    assert result.diff_id is None and result.uncompressed_size is None and result.tar is None
    assert [k for k, *_ in result.findings] == [Kind.UNSUPPORTED_COMPRESSION]
    assert fmt.value in result.findings[0][1]


@pytest.mark.parametrize("fmt", list(UnsupportedCompression))
def test_hash_only_blobs_are_not_named(fmt: UnsupportedCompression) -> None:
    result = _scan(PACKERS[fmt](TAR), False)
    assert result.findings == () and result.unsupported is None


def test_a_tar_whose_first_name_starts_like_bzip2_is_a_tar() -> None:
    data = tar_bytes([("BZh91AY&SY", b"not bzip2")])
    assert data.startswith(b"BZh")
    result = _scan(data, True)
    assert result.unsupported is None
    assert result.findings == ()
    assert str(result.diff_id) == _sha(data)
    assert result.tar is not None and result.tar.entries == 1


EMPTY_LAYERS: dict[str, bytes] = {
    "no bytes": b"",
    "gzip of nothing": gzip.compress(b"", mtime=0),
    "zstd of nothing": zstd.compress(b""),
}


@pytest.mark.parametrize("name", list(EMPTY_LAYERS))
@pytest.mark.parametrize("layer", [True, None])
def test_empty_layer_is_an_empty_tar(name: str, layer: bool | None) -> None:
    data = EMPTY_LAYERS[name]
    result = _scan(data, layer)
    assert str(result.digest) == _sha(data)
    assert result.findings == ()
    assert str(result.diff_id) == EMPTY_SHA
    assert result.uncompressed_size == 0
    assert result.tar is not None and result.tar.entries == 0


@pytest.mark.parametrize("size", [1, 231, 511])
@pytest.mark.parametrize("pack", [bytes, lambda b: gzip.compress(b, mtime=0)])
def test_under_one_block_of_non_tar_is_not_a_tar(
    size: int, pack: Callable[[bytes], bytes]
) -> None:
    content = (b'{"not": "a tar"}' * 40)[:size]
    result = _scan(pack(content), True)
    assert [k for k, *_ in result.findings] == [Kind.NOT_A_TAR]
    assert str(result.diff_id) == _sha(content)  # still measured: a diff_id check can follow
    assert result.uncompressed_size == size


def test_layer_true_always_walks_as_a_tar() -> None:
    junk = bytes(range(256)) * 8
    assert [k for k, *_ in _scan(junk, True).findings] == [Kind.NOT_A_TAR]
    unknown = _scan(junk, None)  # a member of unknown role: only hashed
    assert unknown.findings == () and unknown.diff_id is None


def _kinds(run_json: dict[str, object]) -> set[str]:
    return {p["kind"] for p in run_json["problems"]}  # type: ignore[attr-defined,index]


@pytest.mark.parametrize(
    ("blob", "media_type"),
    [(b"", PLAIN), (EMPTY_LAYERS["gzip of nothing"], GZIP_MT), (zstd.compress(b""), ZSTD_MT)],
)
def test_cli_empty_layer_verifies(tmp_path: Path, blob: bytes, media_type: str) -> None:
    build_layout(tmp_path / "l", [blob], diff_ids=[EMPTY_SHA], media_type=media_type)
    run = run_cli("verify", "--format", "json", str(tmp_path / "l"))
    assert run.code == 0, run.out + run.err
    layer = run.json()["images"][0]["layers"][0]
    assert layer["diff_id"] == EMPTY_SHA
    assert layer["uncompressed_size"] == 0
    assert not _kinds(run.json()) & {"not_a_tar", "missing_end_of_archive", "truncated"}
    assert run_cli("report", "--format", "json", str(tmp_path / "l")).code == 0


@pytest.mark.parametrize("fmt", list(UnsupportedCompression))
def test_cli_unsupported_layer_in_a_layout(tmp_path: Path, fmt: UnsupportedCompression) -> None:
    build_layout(tmp_path / "l", [PACKERS[fmt](TAR)], diff_ids=[_sha(TAR)], media_type=PLAIN)
    run = run_cli("verify", "--format", "json", str(tmp_path / "l"))
    assert run.code == 1
    kinds = _kinds(run.json())
    assert "unsupported_compression" in kinds
    assert not kinds & {"diff_id_mismatch", "truncated", "not_a_tar"}


def _legacy_save(layers: list[bytes], diff_ids: list[str]) -> bytes:
    """A legacy `docker save` tarball: manifest.json, the config, <n>/layer.tar."""
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }
    ).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    names = [f"{i:064x}/layer.tar" for i in range(1, len(layers) + 1)]
    manifest = [{"Config": config_name, "RepoTags": ["app:1"], "Layers": names}]
    members = [(config_name, config), *zip(names, layers, strict=True)]
    members.append(("manifest.json", json.dumps(manifest).encode()))
    return tar_bytes(members)


def test_cli_xz_layer_in_a_legacy_save_file_and_stdin(tmp_path: Path) -> None:
    second = tar_bytes([("usr/bin/app", b"\x00app" * 500)])
    save = _legacy_save([TAR, lzma.compress(second)], [_sha(TAR), _sha(second)])
    (tmp_path / "save.tar").write_bytes(save)
    for run in (
        run_cli("verify", "--format", "json", str(tmp_path / "save.tar")),
        run_cli("verify", "--format", "json", "-", stdin=save),
    ):
        assert run.code == 1, run.out + run.err
        kinds = _kinds(run.json())
        assert "unsupported_compression" in kinds
        assert not kinds & {"diff_id_mismatch", "truncated", "not_a_tar"}


def test_cli_a_whole_save_in_xz_is_one_line_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "save.tar.xz"
    path.write_bytes(lzma.compress(_legacy_save([TAR], [_sha(TAR)])))
    run = run_cli("verify", str(path))
    assert run.code == 2
    assert len(run.err.strip().splitlines()) == 1

