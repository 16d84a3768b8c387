"""``diff --have LIST``: a digest list that is not clean text (bytes that are not ASCII past
the sniffed head, CRLF line ends, a cut digest, one enormous line) gives one line naming the
list and the line, exit 2, in bounded memory; a good list with CRLF ends counts exactly."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from . import exports as ex
from .conftest import run_cli
from .test_diff_core import diff_json

TARS = [ex.layer_tar({"a": b"one"}), ex.layer_tar({"b": b"two"})]


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, int]]:
    """OLD (one layer), NEW (two) as OCI layouts, and NEW's blobs (digest -> bytes)."""
    root = tmp_path_factory.mktemp("have")
    old = ex.to_dir(ex.oci([ex.Image(TARS[:1])]), root / "old")
    written = ex.oci([ex.Image(TARS)])
    new = ex.to_dir(written, root / "new")
    blobs = {
        "sha256:" + n.rsplit("/", 1)[1]: len(d)
        for n, d in written.files.items()
        if n.startswith("blobs/")
    }
    return old, new, blobs


def refused(old: Path, new: Path, listing: Path) -> str:
    run = run_cli("diff", "--have", str(listing), str(old), str(new))
    assert run.code == 2 and run.out == "" and "Traceback" not in run.err, run
    return run.err


def test_bytes_that_are_not_ascii_past_the_sniffed_head_name_their_line(
    pair: tuple[Path, Path, dict[str, int]], tmp_path: Path
) -> None:
    old, new, _ = pair
    listing = tmp_path / "list.txt"
    good = "".join(f"sha256:{i:064x}\n" for i in range(100))  # 7,200 bytes: past 4,096
    listing.write_bytes(good.encode() + "café\n".encode())
    assert refused(old, new, listing) == f"ocianalyze: {listing}: line 101: not a digest\n"


def test_a_cut_digest_is_no_digest(pair: tuple[Path, Path, dict[str, int]], tmp_path: Path) -> None:
    old, new, _ = pair
    listing = tmp_path / "list.txt"
    for line in ("sha256:" + "a" * 63, "b" * 40, "sha512:" + "c" * 64):
        listing.write_text(f"sha256:{'0' * 64}\n{line}\n")
        assert refused(old, new, listing) == f"ocianalyze: {listing}: line 2: not a digest\n"


def test_crlf_lines_count_exactly(pair: tuple[Path, Path, dict[str, int]], tmp_path: Path) -> None:
    old, new, blobs = pair
    listing = tmp_path / "list.txt"
    listing.write_bytes(b"# held\r\n\r\n" + b"".join(d.encode() + b"\r\n" for d in blobs))
    code, doc, err = diff_json(old, new, "--have", str(listing))
    assert code == 1 and err == ""
    assert doc["delta"]["missing"] == [] and doc["delta"]["saved"] == 1.0
    old_blobs = {"sha256:" + p.name for p in (old / "blobs/sha256").iterdir()}
    assert doc["delta"]["held"] == len(set(blobs) | old_blobs)


def test_one_enormous_line_is_refused_in_bounded_memory(
    pair: tuple[Path, Path, dict[str, int]], tmp_path: Path
) -> None:
    """256 MiB of hex digits and no line end: it was read whole and taken as a digest."""
    old, new, _ = pair
    listing = tmp_path / "huge.txt"
    with listing.open("wb") as f:
        for _ in range(256):
            f.write(b"a" * (1 << 20))
    probe = (
        "import resource, subprocess, sys\n"
        "r = subprocess.run(sys.argv[1:], capture_output=True)\n"
        "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "sys.stdout.write(r.stderr.decode())\n"
    )
    args = ["-m", "ocianalyze", "diff", "--have", str(listing), str(old), str(new)]
    cmd = [sys.executable, "-c", probe, sys.executable, *args]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120).stdout
    status, err = out.split("\n", 1)
    code, peak_kib = map(int, status.split())
    assert code == 2
    assert err == f"ocianalyze: {listing}: line 1: not a digest (over 4096 bytes)\n"
    assert peak_kib < 128 * 1024  # the line alone is 256 MiB


def test_a_list_of_digests_of_every_shape_is_read(tmp_path: Path) -> None:
    """sha256sum output and bare hex in capitals still parse (the rules above change none)."""
    from ocianalyze.diff.delta import read_held

    data = hashlib.sha256(b"x").hexdigest()
    listing = tmp_path / "list.txt"
    listing.write_bytes(f"{data.upper()}\r\n{data}  blobs/sha256/{data}\n".encode())
    assert read_held(str(listing)) == {f"sha256:{data}"}
