"""DirStorage on file systems that fight back: links in and out, loops, unreadable and odd files.

Expected values come from the file system itself (bytes read with pathlib, errno texts from
os.strerror, the kernel's own verdict on a symlink chain), never from the class under test."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ocianalyze.errors import Unreadable, UnsafePath
from ocianalyze.sources.dirstorage import MAX_SYMLINKS, DirStorage

from .conftest import SAMPLES
from .test_fs_race import IN_OPEN, Inotify

NOBODY = 65534


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    export = tmp_path / "export"
    shutil.copytree(SAMPLES / "oci-layout", export)
    return export


@pytest.fixture
def storage(layout: Path) -> Iterator[DirStorage]:
    with DirStorage(layout, str(layout)) as s:
        yield s


def _blobs(layout: Path) -> list[Path]:
    return sorted((layout / "blobs" / "sha256").iterdir())


def _fds() -> int:
    return len(list(Path("/proc/self/fd").iterdir()))


def _unreadable(storage: DirStorage, name: str) -> Unreadable:
    with pytest.raises(Unreadable) as info:
        storage.size(name)
    with pytest.raises(Unreadable):
        storage.open_sized(name)
    return info.value


def test_reads_every_blob_whole(layout: Path, storage: DirStorage) -> None:
    for p in _blobs(layout):
        name = f"blobs/sha256/{p.name}"
        data = p.read_bytes()
        assert storage.size(name) == len(data)
        opened = storage.open_sized(name)
        assert opened is not None
        f, size = opened
        with f:
            got = f.read()
        assert size == len(data)
        assert hashlib.sha256(got).hexdigest() == p.name
        with storage.open(name) as g:
            assert g.read() == data
    assert storage.size("index.json") == (layout / "index.json").stat().st_size


def test_absent_names(layout: Path, storage: DirStorage) -> None:
    blob = f"blobs/sha256/{_blobs(layout)[0].name}"
    for name in ("nope", "blobs/sha256/0000", f"{blob}/x", "index.json/", f"{blob}/", "a\0b"):
        assert storage.size(name) is None, name
        assert storage.open_sized(name) is None, name
    with pytest.raises(FileNotFoundError):
        storage.open("nope")


def test_directories_are_no_files(storage: DirStorage) -> None:
    for name in ("", ".", "blobs", "blobs/sha256/", "blobs/sha256/..", "blobs/./sha256"):
        assert storage.size(name) is None, name


def test_links_inside_are_followed(layout: Path) -> None:
    blob = _blobs(layout)[0]
    data = blob.read_bytes()
    sha = layout / "blobs" / "sha256"
    (sha / "alias").symlink_to(blob.name)
    (sha / "up").symlink_to(f"../../blobs/sha256/{blob.name}")
    (sha / "abs").symlink_to(blob)  # absolute, but inside the export
    (layout / "retrace").symlink_to(f"../{layout.name}/blobs/sha256/{blob.name}")
    (sha / "retrace").symlink_to(  # read after the move to store/: 5 levels up
        f"../../../../../{layout.parent.name}/{layout.name}/retrace"
    )
    (layout / "store").mkdir()
    (layout / "blobs").rename(layout / "store" / "blobs")
    (layout / "blobs").symlink_to("store/blobs")
    (layout / "dirlink").symlink_to("store/blobs/sha256/")
    with DirStorage(layout, "x") as s:
        for name in ("alias", "up", "abs", "retrace", blob.name):
            assert s.size(f"blobs/sha256/{name}") == len(data), name
            opened = s.open_sized(f"blobs/sha256/{name}")
            assert opened is not None
            with opened[0] as f:
                assert f.read() == data
        assert s.size(f"dirlink/{blob.name}") == len(data)
        assert s.size(f"blobs/sha256/../sha256/{blob.name}") == len(data)
        assert s.size(f"/{layout.resolve().relative_to('/')}/blobs/sha256/{blob.name}") == len(data)


def test_root_given_through_a_link(layout: Path) -> None:
    link = layout.parent / "via"
    link.symlink_to(layout.name)
    blob = _blobs(layout)[0]
    (layout / "back").symlink_to(f"../{layout.name}/index.json")
    with DirStorage(link, "via") as s:
        assert s.size(f"blobs/sha256/{blob.name}") == blob.stat().st_size
        assert s.size("back") == (layout / "index.json").stat().st_size


def test_links_leading_outside_are_refused_unopened(layout: Path) -> None:
    outside = layout.parent / "outside"
    outside.mkdir()
    secret = outside / "secret"
    secret.write_bytes(b"not in the export")
    sibling = layout.parent / f"{layout.name}-sibling"  # shares the root's name as a prefix
    sibling.mkdir()
    (sibling / "f").write_bytes(b"x")
    (layout / "rel").symlink_to("../outside/secret")
    (layout / "abs").symlink_to(secret)
    (layout / "dangling").symlink_to("../outside/absent")
    (layout / "updir").symlink_to("..")
    (layout / "sib").symlink_to(f"../{sibling.name}/f")
    (layout / "blobs" / "deep").symlink_to("../../outside")
    watch = Inotify(outside, sibling)
    with DirStorage(layout, "x") as s:
        for name in (
            "rel",
            "abs",
            "dangling",
            "updir/outside/secret",
            "sib",
            "blobs/deep/secret",
            "../outside/secret",
            str(secret),
            "..",
            "blobs/../../outside/secret",
        ):
            with pytest.raises(UnsafePath):
                s.size(name)
            with pytest.raises(UnsafePath):
                s.open_sized(name)
    assert [e for e in watch.events() if e[0] & IN_OPEN] == []
    watch.close()


def test_self_link_is_eloop(layout: Path, storage: DirStorage) -> None:
    # g07: index.json a symlink to itself.
    (layout / "index.json").unlink()
    (layout / "index.json").symlink_to("index.json")
    exc = _unreadable(storage, "index.json")
    assert exc.errno == errno.ELOOP
    assert exc.problem == os.strerror(errno.ELOOP)
    assert "index.json" in exc.where


def test_link_loops_in_blobs(layout: Path, storage: DirStorage) -> None:
    sha = layout / "blobs" / "sha256"
    (sha / "a").symlink_to("b")
    (sha / "b").symlink_to("a")
    (layout / "blobs" / "loop").symlink_to("loop/x")
    (layout / "blobs" / "cycle").symlink_to("../blobs/cycle")
    for name in ("blobs/sha256/a", "blobs/loop/sha256/x", "blobs/cycle/sha256/a"):
        assert _unreadable(storage, name).errno == errno.ELOOP, name


@pytest.mark.parametrize("links", [MAX_SYMLINKS, MAX_SYMLINKS + 1])
def test_link_chain_bound_matches_the_kernel(layout: Path, links: int) -> None:
    blob = _blobs(layout)[0]
    sha = layout / "blobs" / "sha256"
    target = blob.name
    for i in range(links):
        (sha / f"l{i}").symlink_to(target)
        target = f"l{i}"
    try:  # the kernel's own verdict on the same chain
        with open(sha / target, "rb"):
            kernel_ok = True
    except OSError as exc:
        assert exc.errno == errno.ELOOP
        kernel_ok = False
    assert kernel_ok == (links <= 40)
    with DirStorage(layout, "x") as s:
        if kernel_ok:
            assert s.size(f"blobs/sha256/{target}") == blob.stat().st_size
        else:
            assert _unreadable(s, f"blobs/sha256/{target}").errno == errno.ELOOP


def test_name_over_name_max(storage: DirStorage) -> None:
    long = "a" * (os.pathconf("/", "PC_NAME_MAX") + 1)
    for name in (long, f"blobs/{long}", f"blobs/sha256/{long}"):
        exc = _unreadable(storage, name)
        assert exc.errno == errno.ENAMETOOLONG
        assert exc.problem == os.strerror(errno.ENAMETOOLONG)


def test_fifo_socket_and_device_are_absent_without_blocking(layout: Path) -> None:
    sha = layout / "blobs" / "sha256"
    os.mkfifo(sha / "fifo")
    names = ["blobs/sha256/fifo"]
    sock = socket.socket(socket.AF_UNIX)
    if len(bytes(sha / "sock")) < 100:  # sun_path holds 108 bytes
        sock.bind(str(sha / "sock"))
        names.append("blobs/sha256/sock")
    try:
        os.mknod(sha / "null", stat.S_IFCHR | 0o644, os.makedev(1, 3))
        names.append("blobs/sha256/null")
    except OSError:
        pass  # no CAP_MKNOD here: the FIFO and socket still run
    results: dict[str, object] = {}

    def look() -> None:
        with DirStorage(layout, "x") as s:
            for n in names:
                results[n] = (s.size(n), s.open_sized(n))

    t = threading.Thread(target=look, daemon=True)
    t.start()
    t.join(10)
    if t.is_alive():  # free the reader before failing
        os.close(os.open(sha / "fifo", os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("blocked on a FIFO")
    sock.close()
    assert results == dict.fromkeys(names, (None, None))


def test_no_descriptor_leaks(layout: Path) -> None:
    (layout / "loop").symlink_to("loop")
    (layout / "out").symlink_to("../..")
    before = _fds()
    s = DirStorage(layout, "x")
    names = ["index.json", "nope", "loop", "out/x", "blobs/sha256/", "blobs/x/y"]
    for _ in range(50):
        for n in names:
            with contextlib.suppress(Unreadable, UnsafePath):
                s.size(n)
    assert _fds() == before + 1  # the root descriptor only
    opened = s.open_sized("index.json")
    assert opened is not None
    s.close()
    with opened[0] as f:  # a stream outlives the storage
        assert f.read() == (layout / "index.json").read_bytes()
    assert _fds() == before
    s.close()  # twice is harmless
    with pytest.raises(ValueError):
        s.size("index.json")


def test_root_that_cannot_be_opened(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"x")
    with pytest.raises(Unreadable) as info:
        DirStorage(tmp_path / "file", "file")
    assert info.value.errno == errno.ENOTDIR
    with pytest.raises(Unreadable) as info:
        DirStorage(tmp_path / "absent", "absent")
    assert info.value.errno == errno.ENOENT


# --- permission denied, which root does not see: run without the power to bypass modes ----

PROBE = """
import json, sys
from pathlib import Path
from ocianalyze.errors import Unreadable
from ocianalyze.sources.dirstorage import DirStorage
root = Path(sys.argv[1])
bypass = True
try:
    (root / sys.argv[2]).read_bytes()
except PermissionError:
    bypass = False
out = {"bypass": bypass}
with DirStorage(root, "x") as s:
    for name in sys.argv[2:]:
        try:
            out[name] = ["size", s.size(name)]
        except Unreadable as exc:
            out[name] = ["unreadable", exc.errno, exc.problem]
print(json.dumps(out))
"""


def _as_nobody() -> None:
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


def _without_dac_caps() -> None:
    """Stay root but exec without CAP_DAC_OVERRIDE (1) and CAP_DAC_READ_SEARCH (2), taken out
    of the bounding set (PR_CAPBSET_DROP = 24): for an interpreter ``nobody`` cannot run."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):
        if libc.prctl(24, cap, 0, 0, 0) != 0:
            os._exit(126)


def _probe_unprivileged(root: Path, names: list[str]) -> dict[str, list[object]]:
    """Run PROBE over ``names`` as a user without the power to bypass file modes: as root,
    first as ``nobody``, else as root without the DAC capabilities; skip when neither works."""
    if sys.platform != "linux":
        pytest.skip("Linux only")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    cmd = [sys.executable, "-c", PROBE, str(root), *names]
    ways = [_as_nobody, _without_dac_caps] if os.geteuid() == 0 else [None]
    why = ""
    for preexec in ways:
        try:
            proc = subprocess.run(
                cmd,
                capture_output=True,
                timeout=60,
                preexec_fn=preexec,
                env=env,
                cwd="/",
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            why = str(exc)
            continue
        if proc.returncode != 0:
            why = proc.stderr.decode()[-300:]
            continue
        out: dict[str, list[object]] = json.loads(proc.stdout)
        if not out.pop("bypass"):
            return out
        why = "this user bypasses file modes"
    pytest.skip(f"cannot run as an unprivileged user: {why}")


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A world-readable copy of the sample layout (pytest's tmp_path is private to root)."""
    top = Path(tempfile.mkdtemp(prefix="ocianalyze-fs-"))
    top.chmod(0o755)
    export = top / "export"
    shutil.copytree(SAMPLES / "oci-layout", export)
    for p in [export, *export.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    yield export
    for p in [top, *top.rglob("*")]:
        if p.is_dir():
            p.chmod(0o755)
    shutil.rmtree(top)


def test_mode_000_blob_and_directory_are_eacces(open_tmp: Path) -> None:
    # g07: a manifest blob of mode 000; also an unsearchable directory on the way.
    index = json.loads((open_tmp / "index.json").read_text())
    manifest = index["manifests"][0]["digest"].split(":")[1]
    (open_tmp / "blobs" / "sha256" / manifest).chmod(0)
    (open_tmp / "locked").mkdir()
    (open_tmp / "locked" / "f").write_bytes(b"x")
    (open_tmp / "locked").chmod(0)
    other = next(p.name for p in _blobs(open_tmp) if p.name != manifest)
    names = [f"blobs/sha256/{manifest}", "locked/f", f"blobs/sha256/{other}"]
    out = _probe_unprivileged(open_tmp, names)
    denied = ["unreadable", errno.EACCES, os.strerror(errno.EACCES)]
    assert out[names[0]] == denied
    assert out[names[1]] == denied
    assert out[names[2]] == ["size", (open_tmp / "blobs" / "sha256" / other).stat().st_size]
