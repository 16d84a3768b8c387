"""Hostile input: bombs, unsafe tar entries, hostile metadata, random corruption."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import shutil
import subprocess
import sys
import tarfile
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ocianalyze import Options, open_export, verify
from ocianalyze.errors import OciError

from .builders import build_layout, tar_bytes
from .conftest import SAMPLES, run_cli, tree_digest


def _info(
    name: str,
    kind: bytes = tarfile.REGTYPE,
    link: str = "",
    mode: int = 0o644,
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, mode
    return info


UNSAFE = {
    "unsafe_path": [_info("../evil"), _info("/abs/file")],
    "link_escape": [
        _info("a/b/up", tarfile.SYMTYPE, "../../../etc/shadow"),
        _info("hl", tarfile.LNKTYPE, "../outside"),
    ],
    "device_node_outside_dev": [
        _info("srv/sda", tarfile.BLKTYPE),
        _info("home/null", tarfile.CHRTYPE),
    ],
    "device_node": [_info("dev/sda", tarfile.BLKTYPE), _info("dev/null", tarfile.CHRTYPE)],
    "setuid_setgid": [_info("usr/bin/su", mode=0o4755), _info("usr/bin/wall", mode=0o2755)],
    "duplicate_entry": [_info("etc/passwd"), _info("etc/passwd")],
    "case_collision": [_info("etc/Hosts"), _info("etc/hosts")],
}


# What each kind's findings are (see errors.SEVERITY): notices never fail --strict.
NOTICES = {"setuid_setgid", "case_collision", "device_node"}


@pytest.mark.parametrize("kind", list(UNSAFE))
def test_unsafe_entries_are_warnings_or_notices_unless_strict(kind: str, tmp_path: Path) -> None:
    layer = gzip.compress(tar_bytes([_info("ok"), *UNSAFE[kind]]))
    build_layout(tmp_path / "l", [layer])
    before = tree_digest(tmp_path / "l")
    run = run_cli("verify", "--format", "json", str(tmp_path / "l"))
    assert run.code == 0, run.err
    problems = run.json()["problems"]
    severity = "notice" if kind in NOTICES else "warning"
    assert {p["kind"] for p in problems} == {kind}
    assert all(p["severity"] == severity for p in problems)
    assert len(problems) == (1 if kind in ("duplicate_entry", "case_collision") else 2)
    strict = run_cli("verify", "--strict", str(tmp_path / "l"))
    if kind in NOTICES:
        line = f"notices: {kind} \u00d7{len(problems)} (see report)\n"
        assert strict.code == 0 and strict.out.startswith(line), strict.out
    else:
        assert strict.code == 1 and f"warning: {kind}: " in strict.out
    assert tree_digest(tmp_path / "l") == before


def test_safe_absolute_symlink_is_not_an_escape(tmp_path: Path) -> None:
    layer = gzip.compress(
        tar_bytes(
            [_info("bin", tarfile.SYMTYPE, "/usr/bin"), _info("a/b/c", tarfile.SYMTYPE, "../x")]
        )
    )
    build_layout(tmp_path / "l", [layer])
    assert run_cli("verify", "--strict", str(tmp_path / "l")).code == 0


# Linux carries a parent's peak RSS over to a child it forks, so the child is started from a
# small intermediate Python process and only its own peak is reported.
_MEASURE = (
    "import os, subprocess, sys\n"
    "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
    "_, status, usage = os.wait4(p.pid, 0)\n"
    "print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)\n"
)


def _rss_kib(args: list[str]) -> tuple[int, int]:
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, sys.executable, "-m", "ocianalyze", *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return int(out[0]), int(out[1])


def _zero_bomb(gib: int) -> tuple[bytes, str]:
    """A gzip layer of ``gib`` GiB of zeros as repeated members, and its diff_id."""
    comp, block = zlib.compressobj(9, zlib.DEFLATED, 31), bytes(1 << 20)
    member = b"".join(comp.compress(block) for _ in range(64)) + comp.flush()
    h = hashlib.sha256()
    for _ in range(gib * 1024):
        h.update(block)
    return member * (gib * 16), "sha256:" + h.hexdigest()


def test_four_gib_of_zeros_verifies_in_bounded_memory(tmp_path: Path) -> None:
    bomb, diff_id = _zero_bomb(4)
    build_layout(tmp_path / "l", [bomb], diff_ids=[diff_id])
    code, rss = _rss_kib(["verify", "--quiet", str(tmp_path / "l")])
    assert code == 0
    assert rss < 64 * 1024, f"peak RSS {rss} KiB"


def test_limit_stops_a_bomb(tmp_path: Path) -> None:
    bomb, diff_id = _zero_bomb(1)
    build_layout(tmp_path / "l", [bomb], diff_ids=[diff_id])
    run = run_cli(
        "verify", "--format", "json", "--max-uncompressed", str(100 << 20), str(tmp_path / "l")
    )
    assert run.code == 1
    assert {p["kind"] for p in run.json()["problems"]} == {"limit_exceeded"}


def test_huge_json_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    layout = tmp_path / "l"
    build_layout(layout, [gzip.compress(tar_bytes([("f", b"x")]))])
    with (layout / "index.json").open("wb") as f:
        f.write(b'{"schemaVersion": 2, "manifests": [], "pad": "')
        f.truncate(200 << 20)
    run = run_cli("inspect", str(layout))
    assert run.code == 2 and "too large" in run.err


def test_absurd_descriptor_size(tmp_path: Path) -> None:
    layout = tmp_path / "l"
    manifest = build_layout(layout, [gzip.compress(tar_bytes([("f", b"x")]))])
    manifest["layers"][0]["size"] = 2**62
    data = json.dumps(manifest).encode()
    (layout / "blobs" / "sha256" / hashlib.sha256(data).hexdigest()).write_bytes(data)
    (layout / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": manifest["mediaType"],
                        "size": len(data),
                        "digest": "sha256:" + hashlib.sha256(data).hexdigest(),
                    }
                ],
            }
        )
    )
    run = run_cli("verify", "--format", "json", str(layout))
    assert run.code == 1
    assert "size_mismatch" in {p["kind"] for p in run.json()["problems"]}


def test_non_utf8_and_control_character_names(tmp_path: Path) -> None:
    names = [b"caf\xe9", b"\x1b[31mred\x1b[0m"]
    buf = tar_bytes([_info(n.decode("utf-8", "surrogateescape")) for n in names])
    build_layout(tmp_path / "l", [gzip.compress(buf)])
    for args in (["files"], ["report"], ["files", "--format", "json"]):
        run = run_cli(*args, str(tmp_path / "l"))
        assert run.code == 0, run.err
        assert "\x1b" not in run.out


# --- random corruption: a changed blob is never OK ----------------------------------------------

KINDS = ["oci-layout", "multi-platform", "docker-dir", "oci-zstd", "attestations"]
# Files not named by their digest: a change there may leave a valid export (a ref renamed).
UNADDRESSED = {"index.json", "oci-layout", "manifest.json", "version", "repositories"}


def _corrupt(root: Path, rng: random.Random) -> Path:
    """Damage one file; returns it."""
    files = sorted(p for p in root.rglob("*") if p.is_file())
    target = rng.choice(files)
    data = bytearray(target.read_bytes())
    action = rng.choice(["flip", "truncate", "remove", "json"])
    if action == "remove":
        target.unlink()
    elif action == "truncate" or not data:
        target.write_bytes(bytes(data[: rng.randrange(len(data) + 1)]))
    elif action == "flip":
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        target.write_bytes(bytes(data))
    else:
        text = data.decode("latin-1")
        for key in ('"size":', '"digest":', '"mediaType":', '"schemaVersion":', '"layers":'):
            text = text.replace(key, rng.choice(['"size": -', '"x":', key + " 0,", key + "[],"]), 1)
        target.write_bytes(text.encode("latin-1"))
    return target


def _changed_blobs(original: Path, damaged: Path) -> set[str]:
    """Content-addressed files whose bytes differ from the original (or are gone)."""
    out = set()
    for path in original.rglob("*"):
        rel = str(path.relative_to(original))
        if path.is_file() and rel not in UNADDRESSED:
            copy = damaged / rel
            if not copy.is_file() or copy.read_bytes() != path.read_bytes():
                out.add(rel)
    return out


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(kind=st.sampled_from(KINDS), seed=st.integers(0, 2**32), rounds=st.integers(1, 3))
def test_property_a_changed_blob_is_never_ok(
    kind: str, seed: int, rounds: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Every blob of the samples is referenced: changing or removing one must fail --strict,
    and as a problem on that blob (the export stays readable) unless a root file was hit too."""
    root = tmp_path_factory.mktemp("c") / kind
    shutil.copytree(SAMPLES / kind, root)
    rng = random.Random(seed)
    for _ in range(rounds):
        _corrupt(root, rng)
    changed = _changed_blobs(SAMPLES / kind, root)
    roots_changed = any(
        not (root / n).is_file() or (root / n).read_bytes() != (SAMPLES / kind / n).read_bytes()
        for n in UNADDRESSED
        if (SAMPLES / kind / n).is_file()
    )
    try:
        result = verify(open_export(str(root)), Options(jobs=2))
    except OciError:
        assert roots_changed, changed  # only a root file can make the export unreadable
        return
    if changed:
        assert not result.ok(strict=True), changed


def _members(data: bytes) -> dict[str, bytes] | None:
    """Each regular member's bytes, read by Python's tarfile (the independent reader)."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tf:
            return {m.name: tf.extractfile(m).read() for m in tf if m.isfile()}  # type: ignore[union-attr]
    except (tarfile.TarError, EOFError, OSError):
        return None


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    name=st.sampled_from(["docker-legacy.tar", "docker-25.tar", "oci-archive.tar"]),
    cut=st.floats(0, 1),
    flips=st.lists(st.floats(0, 1), max_size=3),
)
def test_property_a_damaged_stream_is_never_ok(name: str, cut: float, flips: list[float]) -> None:
    """Damage a tarball, read it gzip-compressed from a stream. When tarfile sees a member's
    bytes changed (or the member gone), the verdict must not be OK (unless only a root JSON
    file changed, which no digest covers)."""
    original = (SAMPLES / name).read_bytes()
    data = bytearray(original)
    for f in flips:
        data[int(f * (len(data) - 1))] ^= 0x55
    data = data[: max(1, int(cut * len(data)))] if cut < 0.999 else data
    before, after = _members(original), _members(bytes(data))
    assert before is not None
    try:
        export = open_export("-", stdin=io.BytesIO(gzip.compress(bytes(data))), scan_stream=True)
        result = verify(export)
    except OciError:
        return  # the outer archive itself is damaged: unreadable, exit 2
    if after is None:
        return  # tarfile cannot say what the members are: no independent claim
    changed = {n for n, b in before.items() if after.get(n) != b and n not in UNADDRESSED}
    changed -= {n for n in changed if n.endswith(("/json", "/VERSION"))}  # legacy v1 files
    if changed:
        assert not result.ok(strict=True), changed


def _pax_header(records: dict[str, str]) -> bytes:
    """A PAX extended header block with its records, built by hand (tarfile refuses these)."""
    body = b""
    for key, value in records.items():
        line = f" {key}={value}\n".encode()
        n = len(line) + 1
        while len(str(n)) + len(line) != n:
            n += 1
        body += str(n).encode() + line
    info = tarfile.TarInfo("PaxHeaders/x")
    info.type, info.size = tarfile.XHDTYPE, len(body)
    return info.tobuf(tarfile.USTAR_FORMAT) + body + b"\0" * (-len(body) % 512)


def _base256_size(size: int) -> bytes:
    """A regular file header whose size field holds ``size`` in GNU base-256."""
    block = bytearray(tarfile.TarInfo("big").tobuf(tarfile.GNU_FORMAT))
    block[124:136] = bytes([0x80]) + size.to_bytes(11, "big")
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


NUMBERS_TOO_LARGE = {
    "base-256 size": _base256_size(2**70) + b"\0" * 2048,
    "PAX size": _pax_header({"size": str(2**64)}) + tar_bytes([_info("f")]),
    "PAX uid": _pax_header({"uid": str(2**70)}) + tar_bytes([_info("f")]),
}


@pytest.mark.parametrize("command", ["verify", "report"])
@pytest.mark.parametrize("layer", list(NUMBERS_TOO_LARGE.values()), ids=list(NUMBERS_TOO_LARGE))
def test_numbers_past_64_bits_are_not_a_tar(layer: bytes, command: str, tmp_path: Path) -> None:
    """As Go's reader: a header number past int64 is invalid, found, never a crash."""
    build_layout(tmp_path / "l", [gzip.compress(layer)])
    run = run_cli(command, "--format", "json", str(tmp_path / "l"))
    assert run.code == 1, run.err
    assert "Traceback" not in run.err and "internal error" not in run.err
    kinds = {p["kind"] for p in run.json()["problems"]}
    assert kinds == {"not_a_tar"}, kinds
