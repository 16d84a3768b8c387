"""The C header loop screens each batch for the safety checks (``screened`` in _tarscan.c):
a batch it vouches for skips safety._harmless and gets the name checks only. A screened batch
must never hide a finding: the findings are exactly those of the same entries checked with
Python's own screening, and every entry the per-entry checks look at singles its batch out.
Tars are written by the standard library's tarfile, not by the code under test."""

from __future__ import annotations

import io
import random
import tarfile

import pytest

from ocianalyze import tarwalk
from ocianalyze.safety import SafetyChecker
from ocianalyze.tarwalk import TarWalker

needs_c = pytest.mark.skipif(not tarwalk.ACCELERATED, reason="C header loop not built")


def _tar(members: list[tarfile.TarInfo]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for info in members:
            tf.addfile(info, io.BytesIO(bytes(info.size)) if info.isfile() else None)
    return buf.getvalue()


def _info(
    name: str, kind: bytes = tarfile.REGTYPE, mode: int = 0o644, link: str = ""
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname = kind, mode, link
    info.size = 3 if kind == tarfile.REGTYPE else 0
    return info


BENIGN = [
    _info("etc"),
    _info("etc/hosts"),
    _info("usr/lib/libx.so.1", tarfile.SYMTYPE, link="libx.so.1.2"),
    _info("usr/bin/app", mode=0o755),
    _info("var/run", tarfile.SYMTYPE, link="/run"),  # absolute targets stay the runtime's
]
# ".." inside a name part is no parent reference, but the screen (as _harmless) singles it out
DOTS_IN_A_PART = _info("a..b/file")

# each singles its batch out: one of the per-entry checks looks at it
SINGLED = {
    "dots inside a name part": DOTS_IN_A_PART,
    "absolute name": _info("/etc/passwd"),
    "dot-dot in the name": _info("usr/../../etc/shadow"),
    "hardlink": _info("bin/sh2", tarfile.LNKTYPE, link="bin/sh"),
    "char device": _info("dev/null", tarfile.CHRTYPE),
    "block device": _info("sda", tarfile.BLKTYPE),
    "symlink target with dot-dot": _info("usr/x", tarfile.SYMTYPE, link="../../etc"),
    "setuid file": _info("usr/bin/su", mode=0o4755),
    "setgid file": _info("usr/bin/wall", mode=0o2755),
}


def _batches(data: bytes) -> list[tuple[bool, list[tarwalk.TarEntry]]]:
    """What the walker hands over, in one chunk: (screened, entries) per batch."""
    got: list[tuple[bool, list[tarwalk.TarEntry]]] = []
    walker = TarWalker(
        lambda entries: got.append((False, entries)),
        on_screened=lambda entries: got.append((True, entries)),
    )
    walker.feed(data)
    walker.finish()
    return got


@needs_c
def test_a_batch_of_ordinary_entries_is_screened() -> None:
    got = _batches(_tar(BENIGN))
    assert [screened for screened, _ in got] == [True]
    assert [e.name for e in got[0][1]] == ["etc", "etc/hosts", "usr/lib/libx.so.1",
                                           "usr/bin/app", "var/run"]  # fmt: skip


@needs_c
@pytest.mark.parametrize("name", sorted(SINGLED))
def test_each_entry_the_checks_look_at_singles_its_batch_out(name: str) -> None:
    got = _batches(_tar([*BENIGN, SINGLED[name]]))
    assert got and not any(screened for screened, _ in got)


def _findings(data: bytes, screened_path: bool) -> list[tuple[str, str, int]]:
    checker = SafetyChecker()
    walker = TarWalker(checker.check, on_screened=checker.check_screened if screened_path else None)
    walker.feed(data)
    walker.finish()
    return [(kind.value, message, n) for kind, message, n in checker.summary()]


@pytest.mark.parametrize("seed", range(12))
def test_screened_batches_find_what_pythons_screening_finds(seed: int) -> None:
    """Random mixes of ordinary and singled-out entries, repeated and case-colliding names
    among them: the same findings, named the same, through either screening."""
    rng = random.Random(seed)
    pool = [*BENIGN, *SINGLED.values()]
    members = [rng.choice(pool) for _ in range(rng.randrange(1, 40))]
    members += [_info(f"d/f{i}") for i in range(rng.randrange(0, 30))]
    if rng.random() < 0.5:
        members.append(_info("D/F1"))  # differs from d/f1 only by case
    data = _tar(members)
    expected = _findings(data, screened_path=False)
    assert _findings(data, screened_path=True) == expected
    kinds = {kind for kind, _, _ in expected}
    if any(m.name == "/etc/passwd" for m in members):
        assert "unsafe_path" in kinds  # the oracle itself finds what it should
