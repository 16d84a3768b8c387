"""The handed tar cases (k4, g02, g09) and the fault kinds behind them, built here.

Expected values come from Python's tarfile (which implements GNU sparse 1.0) or from the rules
of Go's archive/tar written out by hand (reader.go, strconv.go); never from the walker.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from ocianalyze.tarwalk import TarEntry, TarError, TarWalker

from .builders import build_layout
from .conftest import run_cli
from .gotar.rawtar import END, header, member, old_gnu_sparse, pax, pax_record, pax_sparse

REAL = 1 << 20
LONG = (
    b"usr/share/doc/some-package-with-a-rather-long-name-1.2.3/examples/configuration/"
    b"advanced/settings-for-production.conf"
)


def strict_json(text: str) -> Any:
    """json.loads that refuses NaN and Infinity, as Go's encoding/json does."""

    def refuse(token: str) -> Any:
        raise ValueError(f"not JSON: {token}")

    return json.loads(text, parse_constant=refuse)


def walk(data: bytes, accelerated: bool = True) -> tuple[list[TarEntry], Any]:
    seen: list[TarEntry] = []
    walker = TarWalker(seen.extend, accelerated=accelerated)
    for at in range(0, len(data), 4096):
        walker.feed(data[at : at + 4096])
    return seen, walker.finish()


def layout_of(tmp_path: Path, layer: bytes) -> Path:
    build_layout(tmp_path / "layout", [gzip.compress(layer, mtime=0)])
    return tmp_path / "layout"


# ---- k4: GNU sparse, PAX 1.0 form (libarchive/libarchive#2125) ----


def k4_layer() -> bytes:
    content = bytearray(REAL)
    content[0:4], content[REAL - 4 :] = b"HEAD", b"TAIL"
    regions = [(0, 4096), (REAL - 4096, 4096)]
    data = b"".join(bytes(content[o : o + n]) for o, n in regions)
    return (
        member(b"var/", typeflag=b"5", mode=0o755)
        + member(b"var/log/", typeflag=b"5", mode=0o755)
        + pax_sparse(
            "1.0", b"var/log/lastlog", REAL, regions, data, b"var/log/GNUSparseFile.0/lastlog"
        )
        + pax((b"path", LONG))
        + member(LONG[:99], b"x=1\n")
        + END
    )


def tarfile_truth(layer: bytes) -> tuple[dict[str, int], int]:
    """Regular files and their sizes, and the on-disk bytes (files and directories in 4096-byte
    blocks), as Python's tarfile reads the layer."""
    with tarfile.open(fileobj=io.BytesIO(layer)) as tf:
        members = tf.getmembers()
    regs = {m.name: m.size for m in members if m.isreg()}
    disk = sum(-(-s // 4096) * 4096 for s in regs.values()) + 4096 * sum(m.isdir() for m in members)
    return regs, disk


@pytest.mark.parametrize("accelerated", [True, False])
def test_k4_sparse_file_has_its_real_name_and_size(accelerated: bool) -> None:
    layer = k4_layer()
    regs, disk = tarfile_truth(layer)
    assert regs == {"var/log/lastlog": REAL, LONG.decode(): 4}
    entries, stats = walk(layer, accelerated)
    files = {e.name: e.size for e in entries if e.type == "file"}
    assert files == regs
    assert (stats.files, stats.file_bytes, stats.disk_bytes) == (2, REAL + 4, disk)
    assert stats.clean_end


def test_k4_commands_show_the_real_file(tmp_path: Path) -> None:
    layer = k4_layer()
    regs, _ = tarfile_truth(layer)
    layout = layout_of(tmp_path, layer)
    listing = run_cli("files", "--format", "json", str(layout), timeout=30)
    assert listing.code == 0, listing.err
    paths = {e["path"]: e for e in strict_json(listing.out)["entries"]}
    assert paths["var/log/lastlog"]["size"] == REAL and paths["var/log/lastlog"]["type"] == "file"
    assert paths[LONG.decode()]["size"] == 4
    assert not any("GNUSparseFile" in p for p in paths)
    report = run_cli("report", "--format", "json", str(layout), timeout=30)
    assert report.code == 0, report.err
    layer_doc = strict_json(report.out)["images"][0]["layers"][0]
    assert (layer_doc["file_bytes"], layer_doc["files"]) == (sum(regs.values()), len(regs))
    assert run_cli("verify", "--strict", str(layout), timeout=30).code == 0


# ---- every GNU sparse form: the real entry, and never a hidden one after it ----

REGIONS = [(i * 10_000, 700) for i in range(40)]  # more than 4 + 21 slots: two extension blocks
AFTER = member(b"../../etc/evil", b"x", mode=0o4755) + member(b"dev/sda", typeflag=b"4") + END


@pytest.mark.parametrize("form", ["old", "0.0", "0.1", "1.0"])
@pytest.mark.parametrize("accelerated", [True, False])
def test_sparse_forms_read_as_gnu_tar_writes_them(form: str, accelerated: bool) -> None:
    size = 400_000
    if form == "old":
        sparse = old_gnu_sparse(b"var/lib/big", size, REGIONS)
    else:
        sparse = pax_sparse(form, b"var/lib/big", size, REGIONS)
    entries, stats = walk(sparse + AFTER, accelerated)
    got = [(e.raw_name, e.type, e.size, e.mode) for e in entries]
    assert got == [
        ("var/lib/big", "file", size, 0o644),
        ("../../etc/evil", "file", 1, 0o4755),
        ("dev/sda", "block", 0, 0o644),
    ]
    assert stats.file_bytes == size + 1


@pytest.mark.parametrize(
    ("sparse", "why"),
    [
        (pax_sparse("1.0", b"f", 100, [(0, 10)], b"y" * 9), "map does not match the data"),
        (pax_sparse("1.0", b"f", 100, [(50, 10), (0, 10)]), "regions out of order"),
        (pax_sparse("0.1", b"f", 5, [(0, 10)]), "region past the real size"),
        (pax_sparse("0.0", b"f", -1, [(0, 1)]), "negative real size"),
        (old_gnu_sparse(b"f", 100, [(0, 10)], b"z" * 11), "map does not match the data"),
        (
            pax((b"GNU.sparse.major", b"1"), (b"GNU.sparse.minor", b"0"))
            + member(b"f", b"9" * 512),
            "map past the data",
        ),
    ],
)
def test_crafted_sparse_headers_are_refused_not_skipped(sparse: bytes, why: str) -> None:
    """Go refuses each (at Next, or when the data is read): the layer is refused, so nothing
    after it can pass unseen."""
    with pytest.raises(TarError) as caught:
        walk(sparse + AFTER)
    assert caught.value.kind == "not_a_tar", why


def test_unknown_sparse_version_is_a_plain_file() -> None:
    """Go reads GNU.sparse.major=2 as not sparse: the placeholder name and the stored size."""
    layer = (
        pax((b"GNU.sparse.major", b"2"), (b"GNU.sparse.name", b"real"))
        + member(b"ph", b"abc")
        + END
    )
    entries, _ = walk(layer)
    assert [(e.name, e.size) for e in entries] == [("ph", 3)]


# ---- g02: two PAX headers in a row: only the last applies ----


def g02_layer() -> bytes:
    return (
        pax((b"path", b"usr/share/doc/README"))
        + pax((b"mtime", b"1700000000"))
        + member(b"../../../etc/cron.d/evil", b"* * * * * root id\n")
        + END
    )


@pytest.mark.parametrize("accelerated", [True, False])
def test_g02_only_the_last_pax_header_applies(accelerated: bool) -> None:
    entries, _ = walk(g02_layer(), accelerated)
    assert [(e.raw_name, e.mtime) for e in entries] == [("../../../etc/cron.d/evil", 1_700_000_000)]


def test_g02_commands_flag_the_entry_go_sees(tmp_path: Path) -> None:
    layout = layout_of(tmp_path, g02_layer())
    run = run_cli("verify", "--strict", "--format", "json", str(layout), timeout=30)
    assert run.code == 1
    kinds = {p["kind"] for p in strict_json(run.out)["problems"]}
    assert "unsafe_path" in kinds
    listing = run_cli("files", "--layer", "1", "--format", "json", str(layout), timeout=30)
    assert listing.code == 0
    assert len(strict_json(listing.out)["entries"]) == 1
    assert "README" not in listing.out


def test_global_headers_apply_to_nothing() -> None:
    """A 'g' header is its own entry in Go (which Docker skips): its path names no file, and
    the PAX header before it is dropped."""
    layer = (
        pax((b"path", b"first")) + pax((b"path", b"global"), typeflag=b"g") + member(b"plain", b"1")
        + member(b"second", b"2") + END
    )  # fmt: skip
    entries, stats = walk(layer)
    assert [e.name for e in entries] == ["plain", "second"] and stats.entries == 2


@pytest.mark.skipif(
    "libasan" in os.environ.get("LD_PRELOAD", ""), reason="AddressSanitizer's shadow memory"
)
def test_a_thousand_pax_headers_cost_one(tmp_path: Path) -> None:
    """1,000 PAX headers of 1,000 records each, all keys distinct (16 MB of tar), before one
    file: each header replaces the last (as in Go), so verify's peak RSS stays that of a small
    layer instead of holding a million records."""
    records = [pax_record(b"k%07d" % i, b"v") for i in range(1_000_000)]
    headers = b"".join(
        pax(raw=b"".join(records[i : i + 1000])) for i in range(0, len(records), 1000)
    )
    layer = headers + member(b"last", b"x") + END
    layout = layout_of(tmp_path, layer)
    script = (
        "import resource, subprocess, sys\n"
        "cmd = [sys.executable, '-m', 'ocianalyze', 'verify', sys.argv[1]]\n"
        "p = subprocess.run(cmd, capture_output=True)\n"
        "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(layout)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    assert out[0] == "0"
    assert int(out[1]) < 80 * 1024, f"peak RSS {int(out[1]) // 1024} MiB"


# ---- g09 and the other times: parsed as Go's parsePAXTime, whole int seconds ----


@pytest.mark.parametrize(
    ("record", "mtime"),
    [
        (b"1700000000", 1_700_000_000),
        (b"1700000000.999999999", 1_700_000_000),  # rounds down, as time.Unix() gives it
        (b"-1.5", -2),
        (b"-0.5", -1),
        (b"-1.0000000001", -1),  # Go keeps nine digits of the fraction
        (b"+5", 5),
        (b"5.", 5),
        (b"", 1_234),  # an empty value keeps the header's
        (b"9223372036854775807", 2**63 - 1),
        (b"-9223372036854775808", -(2**63)),
    ],
)
@pytest.mark.parametrize("accelerated", [True, False])
def test_pax_times_are_whole_seconds(record: bytes, mtime: int, accelerated: bool) -> None:
    entries, stats = walk(
        pax((b"mtime", record)) + member(b"f", b"x", mtime=1_234) + END, accelerated
    )
    assert [e.mtime for e in entries] == [mtime] and type(entries[0].mtime) is int
    assert stats.newest_mtime == mtime


@pytest.mark.parametrize(
    "record",
    [
        b"nan",
        b"inf",
        b"-inf",
        b"1e9",
        b"0x10",
        b"1_0",
        b" 5",
        b".5",
        b"9223372036854775808",
        b"1.5e3",
    ],
)
@pytest.mark.parametrize("key", [b"mtime", b"atime", b"ctime"])
def test_times_go_refuses_refuse_the_layer(record: bytes, key: bytes) -> None:
    with pytest.raises(TarError) as caught:
        walk(pax((key, record)) + member(b"f", b"x") + END)
    assert caught.value.kind == "not_a_tar"


@pytest.mark.parametrize(
    ("field", "mtime"),
    [
        (b"\x80" + (2**62).to_bytes(11, "big"), 2**62),  # base-256, far past year 9999
        (b"\xff" * 12, -1),  # base-256 negative
    ],
)
def test_header_times_go_accepts_are_kept_whole(field: bytes, mtime: int) -> None:
    """report/files.py must guard calendar conversions: these are valid layers."""
    entries, _ = walk(header(b"f", b"0", 0, mtime=field) + END)
    assert [e.mtime for e in entries] == [mtime]


def test_base256_mtime_past_63_bits_is_refused() -> None:
    with pytest.raises(TarError):
        walk(header(b"f", b"0", 0, mtime=b"\x80" + b"\xff" * 11) + END)


def g09_layer() -> bytes:
    return pax((b"mtime", b"nan")) + member(b"f", b"x") + END


def test_g09_every_json_output_is_json(tmp_path: Path) -> None:
    """Go refuses mtime=nan (invalid tar header): the layer is not a tar, reported in valid
    JSON, and no command fails internally."""
    layout = layout_of(tmp_path, g09_layer())
    verify = run_cli("verify", "--format", "json", str(layout), timeout=30)
    assert verify.code == 1
    assert "not_a_tar" in {p["kind"] for p in strict_json(verify.out)["problems"]}
    for args in (["report", "--format", "json"], ["inspect", "--format", "json"]):
        run = run_cli(*args, str(layout), timeout=30)
        assert run.code in (0, 1), run.err
        strict_json(run.out)
    for args in (["files"], ["files", "--format", "json"]):
        run = run_cli(*args, str(layout), timeout=30)
        assert run.code in (1, 2) and len(run.err.splitlines()) == 1, run.err
        assert "not_a_tar" in run.err or "cannot be listed" in run.err
