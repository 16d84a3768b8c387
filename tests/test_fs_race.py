"""The blob-path swap race (G19): ``blobs/`` swapped for a symlink to a folder outside the export
while blobs are opened and read. Nothing outside may ever be opened, and every byte read must be
the export's own (the decoys outside are each blob plus 2 bytes)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

import pytest

from ocianalyze.errors import OciError, UnsafePath
from ocianalyze.sources.dirstorage import DirStorage

from .conftest import SAMPLES

RENAME_EXCHANGE = 2  # linux/fs.h
AT_FDCWD = -100
IN_OPEN = 0x20
IN_Q_OVERFLOW = 0x4000
RACE_SECONDS = 2.5  # per variant; two variants: ~5 s of swapping in all


def _libc() -> Any:
    return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def renameat2_available(tmp: Path) -> bool:
    """Whether renameat2(RENAME_EXCHANGE) works here (glibc 2.28+, Linux 3.15+, a file system
    that supports it)."""
    try:
        fn = _libc().renameat2
    except AttributeError:
        return False
    (tmp / "probe-a").mkdir()
    (tmp / "probe-b").symlink_to("probe-a")
    try:
        ok = fn(AT_FDCWD, bytes(tmp / "probe-a"), AT_FDCWD, bytes(tmp / "probe-b"), 2) == 0
    finally:
        (tmp / "probe-a").unlink()  # exchanged: probe-a is now the link
        (tmp / "probe-b").rmdir()
    return ok


class Inotify:
    """IN_OPEN events on some directories (and the files in them), read without blocking."""

    def __init__(self, *dirs: Path) -> None:
        self._libc = _libc()
        self.fd = self._libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            pytest.skip(f"inotify unavailable: {os.strerror(ctypes.get_errno())}")
        for d in dirs:
            if self._libc.inotify_add_watch(self.fd, bytes(d), IN_OPEN) < 0:
                pytest.skip(f"inotify_add_watch: {os.strerror(ctypes.get_errno())}")

    def events(self) -> list[tuple[int, str]]:
        """(mask, name) of every event since the last call; name "" for the directory itself."""
        out: list[tuple[int, str]] = []
        while True:
            try:
                buf = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                return out
            pos = 0
            while pos < len(buf):
                _wd, mask, _cookie, size = struct.unpack_from("iIII", buf, pos)
                name = buf[pos + 16 : pos + 16 + size].rstrip(b"\0").decode()
                out.append((mask, name))
                pos += 16 + size

    def close(self) -> None:
        os.close(self.fd)


class _Opens:
    """Audit events of every open by name (``open``, ``os.open``) while ``on`` is True.

    An audit hook cannot be removed, so one is installed per process and stays cheap when off."""

    on = False
    paths: ClassVar[list[str]] = []
    installed = False

    @classmethod
    def hook(cls, event: str, args: tuple[Any, ...]) -> None:
        if cls.on and event == "open" and isinstance(args[0], (str, bytes)):
            cls.paths.append(os.fsdecode(args[0]))

    @classmethod
    def install(cls) -> None:
        if not cls.installed:
            sys.addaudithook(cls.hook)
            cls.installed = True


class StorageClass(Protocol):
    def __call__(self, root: Path, where: str) -> Any: ...


@dataclass
class RaceResult:
    reads: int = 0
    refused: int = 0
    absent: int = 0
    wrong: list[str] = field(default_factory=list)  # names whose bytes were not the export's
    outside_opens: list[tuple[int, str]] = field(default_factory=list)
    joined_paths: list[str] = field(default_factory=list)  # opens by a path of several parts
    errors: list[str] = field(default_factory=list)


SWAPPER = """
import ctypes, ctypes.util, os, sys
libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
os.chdir(sys.argv[1])
a, b = b"blobs", b"blobs_evil"
while True:
    if libc.renameat2(-100, a, -100, b, 2) != 0:
        sys.exit(os.strerror(ctypes.get_errno()))
"""


def make_race_layout(tmp: Path, absolute_link: bool) -> tuple[Path, Path, dict[str, bytes]]:
    """A copy of the sample OCI layout and, beside it, ``outside/sha256/<hex>`` = each blob plus
    2 bytes, with ``export/blobs_evil`` linking there. Returns (export, outside, blob bytes)."""
    export = tmp / "export"
    shutil.copytree(SAMPLES / "oci-layout", export)
    outside = tmp / "outside"
    (outside / "sha256").mkdir(parents=True)
    blobs: dict[str, bytes] = {}
    for p in sorted((export / "blobs" / "sha256").iterdir()):
        data = p.read_bytes()
        blobs[f"blobs/sha256/{p.name}"] = data
        (outside / "sha256" / p.name).write_bytes(data + b"XX")
    (export / "blobs_evil").symlink_to(outside if absolute_link else Path("..") / "outside")
    return export, outside, blobs


def _read_all(storage: Any, name: str) -> bytes | None:
    """Size and bytes from one open where the class offers it, else size() then open()."""
    if hasattr(storage, "open_sized"):
        opened = storage.open_sized(name)
        if opened is None:
            return None
        f, size = opened
    else:
        size = storage.size(name)
        if size is None:
            return None
        f = storage.open(name)
    with f:
        data: bytes = f.read()
    return data if len(data) == size else data + b"<size differs>"


def run_race(cls: StorageClass, tmp: Path, absolute_link: bool, seconds: float) -> RaceResult:
    """Swap ``blobs`` and ``blobs_evil`` in another process while ``cls`` reads every blob
    again and again for ``seconds``; what was opened outside, and what was read wrong."""
    export, outside, blobs = make_race_layout(tmp, absolute_link)
    watch = Inotify(outside, outside / "sha256")
    _Opens.install()
    result = RaceResult()
    storage = cls(export, str(export))
    swapper = subprocess.Popen([sys.executable, "-c", SWAPPER, str(export)])
    try:
        _Opens.paths = []
        _Opens.on = True
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for name, want in blobs.items():
                _read_one(storage, name, want, result)
        _Opens.on = False
        assert swapper.poll() is None, "the swapping process stopped"
    finally:
        _Opens.on = False
        swapper.kill()
        swapper.wait()
        if hasattr(storage, "close"):
            storage.close()
    result.outside_opens = watch.events()
    result.joined_paths = [p for p in _Opens.paths if "/" in p]
    # The watch works: an open of a decoy by this test is seen.
    (outside / "sha256" / Path(next(iter(blobs))).name).read_bytes()
    assert any(m & IN_OPEN for m, _ in watch.events()), "inotify saw no control open"
    watch.close()
    return result


def _read_one(storage: Any, name: str, want: bytes, result: RaceResult) -> None:
    try:
        got = _read_all(storage, name)
    except UnsafePath:
        result.refused += 1
        return
    except (OSError, OciError) as exc:  # neither a verdict nor data: a failure of the class
        result.errors.append(f"{type(exc).__name__}: {exc}")
        return
    if got is None:
        result.absent += 1
    elif got != want:
        result.wrong.append(name)
    else:
        result.reads += 1


@pytest.fixture
def race_tmp(tmp_path: Path) -> Iterator[Path]:
    if sys.platform != "linux" or not renameat2_available(tmp_path):
        pytest.skip("renameat2(RENAME_EXCHANGE) is not available here")
    yield tmp_path


@pytest.mark.parametrize("absolute_link", [True, False], ids=["absolute-link", "dotdot-link"])
def test_swapped_blobs_dir_never_opens_outside(race_tmp: Path, absolute_link: bool) -> None:
    r = run_race(DirStorage, race_tmp, absolute_link, RACE_SECONDS)
    assert r.outside_opens == []
    assert r.wrong == []
    assert r.joined_paths == []  # every open is one component, relative to a descriptor
    assert r.errors == []
    assert r.absent == 0  # a swap never makes a present blob look missing
    # Both sides of the race were met: blobs read through the real folder, and refused
    # through the link.
    assert r.reads > 0
    assert r.refused > 0
