"""Memory does not grow with the number of files past a few bytes each (handed case g16:
one layer of 1,000,000 empty files: verify < 64 MiB, report < 96 MiB, files streamed).

Peak RSS is taken from a child process (ru_maxrss of RUSAGE_CHILDREN, in KiB on Linux), at two
sizes: the difference divided by the extra files is what one file costs, whatever the
interpreter's own footprint on this machine."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .builders import build_layout

# both past the size where the reader's fixed buffers (queues, inflate windows) are full
SMALL, LARGE = 100_000, 300_000
# bytes per file: 8 for a name hash, about 14 for a table row plus the name, with slack for
# allocator growth; before this bound existed they were ~80 (verify), ~230 (report) and
# ~2,200 (files --format json)
PER_FILE = {"verify": 32, "report": 48, "files-json": 56, "files-text": 56}
COMMANDS = {
    "verify": ["verify", "--format", "json"],
    "report": ["report"],
    "files-json": ["files", "--format", "json"],
    "files-text": ["files"],
}


def empty_files_tar(count: int) -> bytes:
    """A ustar layer of ``count`` empty files d/0000000...: headers built directly (tarfile
    takes seconds for this many)."""
    out = bytearray()
    for i in range(count):
        header = bytearray(512)
        name = b"d/%07d" % i
        header[: len(name)] = name
        header[100:108] = b"0000644\0"
        header[108:116] = header[116:124] = b"0000000\0"
        header[124:136] = b"00000000000\0"
        header[136:148] = b"14524770400\0"  # mtime 1700000000
        header[148:156] = b" " * 8
        header[156:157] = b"0"
        header[257:265] = b"ustar\x0000"
        header[148:156] = b"%06o\0 " % sum(header)
        out += header
    return bytes(out + b"\0" * 1024)


def peak_kib(*args: str) -> int:
    """Peak RSS (KiB) of one ocianalyze run, measured by a wrapper process of its own."""
    probe = (
        "import resource, subprocess, sys\n"
        "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
        "assert r.returncode == 0, r.stderr\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    cmd = [sys.executable, "-c", probe, sys.executable, "-m", "ocianalyze", *args]
    return int(subprocess.run(cmd, capture_output=True, check=True, timeout=300).stdout)


@pytest.fixture(scope="module")
def layouts(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    out = {}
    for count in (SMALL, LARGE):
        layout = tmp_path_factory.mktemp(f"files{count}")
        build_layout(layout, [gzip.compress(empty_files_tar(count), 1, mtime=0)])
        out[count] = layout
    return out


@pytest.mark.parametrize("what", list(COMMANDS))
def test_memory_per_file_is_a_few_bytes(layouts: dict[int, Path], what: str) -> None:
    small = peak_kib(*COMMANDS[what], str(layouts[SMALL]))
    large = peak_kib(*COMMANDS[what], str(layouts[LARGE]))
    per_file = (large - small) * 1024 / (LARGE - SMALL)
    assert per_file < PER_FILE[what], f"{what}: {per_file:.1f} bytes per file"


def test_the_listing_is_complete(layouts: dict[int, Path]) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "ocianalyze", "files", "--format", "json", str(layouts[LARGE])],
        capture_output=True,
        check=True,
        timeout=300,
    )
    entries = json.loads(run.stdout)["entries"]
    assert len(entries) == LARGE
    assert entries[0] == {
        "path": "d/0000000",
        "type": "file",
        "mode": 0o644,
        "uid": 0,
        "gid": 0,
        "size": 0,
        "mtime": 1_700_000_000,
        "link": None,
    }
    assert [e["path"] for e in entries[-2:]] == [f"d/{LARGE - 2:07d}", f"d/{LARGE - 1:07d}"]


@pytest.mark.skipif(not os.environ.get("OCIANALYZE_SLOW"), reason="set OCIANALYZE_SLOW=1")
def test_g16_a_million_files_within_the_stated_budgets(tmp_path: Path) -> None:
    """The handed case at full size (about a minute): the README's stated budgets."""
    build_layout(tmp_path, [gzip.compress(empty_files_tar(1_000_000), 1, mtime=0)])
    budgets_mib = {"verify": 64, "report": 96, "files-json": 64}
    for what, mib in budgets_mib.items():
        assert peak_kib(*COMMANDS[what], str(tmp_path)) < mib * 1024, what
