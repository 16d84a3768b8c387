"""Every unreadable input gives one line `ocianalyze: <path>: <problem>` and exit 2 (or, for
damage inside an otherwise readable export, problem lines and exit 1): never a traceback."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import SAMPLES, run_cli, tree_digest


def _file(content: bytes) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        p = tmp / "input"
        p.write_bytes(content)
        return p

    return make


def _layout(
    index: bytes, layout: bytes | None = b'{"imageLayoutVersion":"1.0.0"}'
) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        d = tmp / "layout"
        (d / "blobs" / "sha256").mkdir(parents=True)
        (d / "index.json").write_bytes(index)
        if layout is not None:
            (d / "oci-layout").write_bytes(layout)
        return d

    return make


def _missing(tmp: Path) -> Path:
    return tmp / "does-not-exist.tar"


def _empty_dir(tmp: Path) -> Path:
    (tmp / "empty").mkdir()
    return tmp / "empty"


def _truncated_gz(tmp: Path) -> Path:
    data = gzip.compress((SAMPLES / "docker-25.tar").read_bytes())
    return _file(data[: len(data) // 2])(tmp)


def _truncated_tar(tmp: Path) -> Path:
    data = (SAMPLES / "oci-archive.tar").read_bytes()
    return _file(data[:1536])(tmp)


def _fifo(tmp: Path) -> Path:
    p = tmp / "fifo"
    os.mkfifo(p)
    return p


def _descriptor(digest: str, size: int = 2) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": digest,
                    "size": size,
                }
            ],
        }
    ).encode()


UNREADABLE = {
    "missing": _missing,
    "empty-file": _file(b""),
    "random-bytes": _file(os.urandom(4096)),
    "text-file": _file(b"hello world\n" * 100),
    "empty-dir": _empty_dir,
    "truncated-gzip": _truncated_gz,
    "truncated-tar": _truncated_tar,
    "gzip-not-tar": _file(gzip.compress(b"not a tar at all" * 100)),
    "fifo": _fifo,
    "index-not-json": _layout(b"{not json"),
    "index-wrong-type": _layout(b"[1, 2, 3]"),
    "index-deep-json": _layout(b"[" * 100000 + b"]" * 100000),
    "index-schema-1": _layout(b'{"schemaVersion": 1, "manifests": []}'),
    "digest-with-path": _layout(_descriptor("sha256:../../../../etc/passwd")),
    "negative-size": _layout(_descriptor("sha256:" + "a" * 64, -1)),
    "oci-layout-garbage": _layout(_descriptor("sha256:" + "a" * 64), b"[]"),
}


@pytest.mark.parametrize("make", list(UNREADABLE.values()), ids=list(UNREADABLE))
@pytest.mark.parametrize("command", ["inspect", "verify", "report"])
def test_unreadable_input_exits_2_with_one_line(
    make: Callable[[Path], Path], command: str, tmp_path: Path
) -> None:
    path = make(tmp_path)
    before = tree_digest(path) if path.exists() and not path.is_fifo() else None
    run = run_cli(command, str(path), timeout=30)
    assert run.code == 2, (run.out, run.err)
    assert "Traceback" not in run.err
    lines = run.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"ocianalyze: {path}"), run.err
    if before is not None:
        assert tree_digest(path) == before


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["verify"], "Missing argument"),
        (["verify", "--jobs", "x", "."], "'x' is not a valid"),
        (["--bogus"], "No such option: --bogus"),
        (["report", "--format", "xml", "."], "'xml' is not one of"),
        (["inspect", "a", "b"], "unexpected extra argument"),
        (["nosuchcommand"], "No such command"),
    ],
)
def test_command_line_errors_exit_2_with_one_line(args: list[str], says: str) -> None:
    run = run_cli(*args)
    assert run.code == 2, (run.out, run.err)
    lines = run.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ocianalyze: usage: "), run.err
    assert says in lines[0] and "--help" in lines[0]


def test_no_arguments_prints_the_help() -> None:
    run = run_cli()
    assert run.code == 2
    assert "verify" in run.out + run.err and "Traceback" not in run.err


@pytest.mark.parametrize(
    "data",
    [b"", b"garbage" * 100, gzip.compress(b"x" * 1000)[:20]],
    ids=["empty", "garbage", "truncated-gzip"],
)
def test_bad_stdin_exits_2(data: bytes) -> None:
    run = run_cli("verify", "-", stdin=data)
    assert run.code == 2
    assert run.err.startswith("ocianalyze: -: ") and len(run.err.strip().splitlines()) == 1


def test_truncated_stdin_names_what_was_incomplete() -> None:
    data = gzip.compress((SAMPLES / "docker-legacy.tar").read_bytes())
    run = run_cli("verify", "-", stdin=data[: len(data) - 50])
    assert run.code == 2
    assert "ends early" in run.err


def test_blob_symlink_leaving_the_layout_is_refused(
    sample_copy: Callable[[str], Path], tmp_path: Path
) -> None:
    layout = sample_copy("oci-layout")
    outside = tmp_path / "secret"
    manifest = json.loads((layout / "index.json").read_text())["manifests"][0]["digest"]
    doc = json.loads((layout / "blobs" / manifest.replace(":", "/")).read_text())
    layer = layout / "blobs" / doc["layers"][0]["digest"].replace(":", "/")
    shutil.move(layer, outside)
    layer.symlink_to(outside)
    run = run_cli("verify", "--format", "json", str(layout))
    assert run.code == 1
    problems = run.json()["problems"]
    assert [(p["kind"], p["digest"]) for p in problems] == [
        ("blob_outside_export", doc["layers"][0]["digest"])
    ]


def _index_of(digest: str, size: int) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.index.v1+json",
                    "digest": digest,
                    "size": size,
                }
            ],
        }
    ).encode()


def test_index_loop_is_reported_not_followed(tmp_path: Path) -> None:
    """Content addressing forbids a true loop, so a loop needs a lying blob: b lists a, and
    the file stored as a lists b. The walk must stop and report, not recurse."""
    d = _layout(b"{}")(tmp_path)
    a_claimed = b'{"schemaVersion": 2, "manifests": []}'
    a_digest = "sha256:" + hashlib.sha256(a_claimed).hexdigest()
    b_bytes = _index_of(a_digest, len(a_claimed))
    b_digest = "sha256:" + hashlib.sha256(b_bytes).hexdigest()
    blobs = d / "blobs" / "sha256"
    (blobs / b_digest[7:]).write_bytes(b_bytes)
    (blobs / a_digest[7:]).write_bytes(_index_of(b_digest, len(b_bytes)))
    (d / "index.json").write_bytes(_index_of(b_digest, len(b_bytes)))
    run = run_cli("verify", "--format", "json", str(d), timeout=30)
    assert run.code == 1
    kinds = {p["kind"] for p in run.json()["problems"]}
    assert "bad_metadata" in kinds  # the loop
    assert kinds & {"size_mismatch", "digest_mismatch"}  # the lying blob
