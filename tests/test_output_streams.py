"""The standard streams and signals, with the real console script in a subprocess: a reader that
leaves keeps the verdict, a write error is exit 2 in one line, a closed stderr changes nothing,
SIGINT/SIGTERM give 130/143 in at most one line (imports included), and an empty PATH is a
usage error for every command. Handed cases G06, G20 and G28."""

from __future__ import annotations

import errno
import gzip
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ocianalyze import cli
from ocianalyze.errors import Unreadable

from .builders import build_layout, tar_bytes

SCRIPT = Path(sys.executable).with_name("ocianalyze")  # the console script of this environment
pytestmark = pytest.mark.skipif(not SCRIPT.is_file(), reason="console script not installed")


@pytest.fixture
def good(tmp_path: Path) -> Path:
    layer = gzip.compress(tar_bytes([("etc/hostname", b"box\n")]), mtime=0)
    build_layout(tmp_path / "good", [layer])
    return tmp_path / "good"


@pytest.fixture
def slow(tmp_path: Path) -> Path:
    """A layer of 256 MiB of zeros (256 KiB stored): reading it takes far longer than 0.1 s."""
    zeros = tar_bytes([("zeros", bytes(256 << 20))])
    build_layout(tmp_path / "slow", [gzip.compress(zeros, compresslevel=1, mtime=0)])
    return tmp_path / "slow"


@pytest.fixture
def bad(tmp_path: Path) -> Path:
    """A layer whose diff_id in the config is wrong: verify fails (exit 1) on its own."""
    layer = gzip.compress(tar_bytes([("etc/hostname", b"box\n")]), mtime=0)
    build_layout(tmp_path / "bad", [layer], diff_ids=["sha256:" + "0" * 64])
    return tmp_path / "bad"


def _run(
    args: list[str],
    stdout: Any = subprocess.DEVNULL,
    stderr: Any = subprocess.PIPE,
    stdin: Any = subprocess.DEVNULL,
    close: tuple[int, ...] = (),
    cwd: Path | None = None,
) -> tuple[int, str]:
    """Run the console script; ``close``: descriptors closed in the child (as ``>&-``)."""

    def pre() -> None:
        for fd in close:
            os.close(fd)

    proc = subprocess.run(
        [str(SCRIPT), *args],
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        preexec_fn=pre if close else None,
        timeout=60,
        check=False,
        cwd=cwd,
    )
    err = proc.stderr.decode() if isinstance(proc.stderr, bytes) else ""
    return proc.returncode, err


def _closed_pipe() -> int:
    """The write end of a pipe whose reader has already gone (`| head -c 0`)."""
    read, write = os.pipe()
    os.close(read)
    return write


@pytest.mark.parametrize(
    "args", [["verify"], ["report", "--format", "json"], ["report", "--format", "markdown"]]
)
@pytest.mark.parametrize(("which", "verdict"), [("good", 0), ("bad", 1)])
def test_a_reader_that_left_keeps_the_verdict(
    args: list[str], which: str, verdict: int, request: pytest.FixtureRequest
) -> None:
    export = request.getfixturevalue(which)
    pipe = _closed_pipe()
    try:
        code, err = _run([*args, str(export)], stdout=pipe)
    finally:
        os.close(pipe)
    assert code == verdict, err
    assert err.count("\n") <= 1 and "Traceback" not in err


@pytest.mark.parametrize("args", [["verify"], ["inspect"], ["report", "--format", "json"]])
def test_a_full_stdout_is_exit_2_in_one_line(args: list[str], good: Path) -> None:
    with open("/dev/full", "wb") as full:
        code, err = _run([*args, str(good)], stdout=full)
    assert code == 2
    assert err == f"ocianalyze: stdout: {os.strerror(errno.ENOSPC)}\n"


def test_files_on_a_full_stdout_is_exit_2_in_one_line(good: Path) -> None:
    with open("/dev/full", "wb") as full:
        code, err = _run(["files", "--format", "json", str(good)], stdout=full)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("args", [["verify"], ["inspect"], ["report"]])
def test_a_closed_stdout_is_exit_2_in_one_line(args: list[str], good: Path) -> None:
    code, err = _run([*args, str(good)], close=(1,))
    assert code == 2
    assert err == f"ocianalyze: stdout: {os.strerror(errno.EBADF)}\n"


@pytest.mark.parametrize(("which", "verdict"), [("good", 0), ("bad", 1)])
@pytest.mark.parametrize("how", ["closed", "/dev/full"])
def test_stderr_never_changes_the_exit_code(
    which: str, verdict: int, how: str, request: pytest.FixtureRequest
) -> None:
    export = request.getfixturevalue(which)
    for args in (["verify"], ["inspect"], ["footprint"]):
        if how == "closed":
            code, _ = _run([*args, str(export)], stderr=subprocess.DEVNULL, close=(2,))
        else:
            with open("/dev/full", "wb") as full:
                code, _ = _run([*args, str(export)], stderr=full)
        assert code == (0 if args == ["inspect"] else verdict), (args, how)


def test_a_closed_stdin_is_exit_2_in_one_line() -> None:
    for args in (["verify", "-"], ["inspect", "-"], ["files", "-"], ["footprint", "-"]):
        code, err = _run(args, close=(0,))
        assert code == 2, args
        assert err == f"ocianalyze: -: standard input is closed ({os.strerror(errno.EBADF)})\n"


# --- g28: empty and blank paths ------------------------------------------------------------


@pytest.mark.parametrize("command", ["inspect", "verify", "report", "footprint", "files"])
@pytest.mark.parametrize("path", ["", "   ", "\t"])
def test_an_empty_path_is_a_usage_error(command: str, path: str, good: Path) -> None:
    code, err = _run([command, path], cwd=good)  # run inside a valid export, as in G28
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("ocianalyze: usage: "), err


def test_an_empty_path_among_several_is_a_usage_error(good: Path) -> None:
    code, err = _run(["footprint", str(good), ""])
    assert code == 2 and err.startswith("ocianalyze: usage: ") and err.count("\n") == 1


def test_dot_inside_the_export_still_works(good: Path) -> None:
    assert _run(["verify", "."], cwd=good) == (0, "")


# --- OS errors: exit 2, one line naming the path and errno's text --------------------------


def _loop(tmp_path: Path) -> Path:
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    return tmp_path / "loop"


def _file_with_slash(tmp_path: Path) -> Path:
    (tmp_path / "f.tar").write_bytes(b"x" * 1024)
    return Path(str(tmp_path / "f.tar") + "/")


def _long_name(tmp_path: Path) -> Path:
    return tmp_path / ("n" * 300)


@pytest.mark.parametrize("make", [_loop, _file_with_slash, _long_name])
def test_os_errors_on_the_path_are_exit_2_in_one_line(
    make: Callable[[Path], Path], tmp_path: Path
) -> None:
    path = make(tmp_path)
    for command in ("inspect", "verify", "report", "files"):
        code, err = _run([command, str(path)])
        assert code == 2, err
        assert err.count("\n") == 1 and err.startswith(f"ocianalyze: {path}"), err


@pytest.mark.parametrize(
    ("raised", "line"),
    [
        (
            PermissionError(errno.EACCES, os.strerror(errno.EACCES), "/x/index.json"),
            f"ocianalyze: /x/index.json: {os.strerror(errno.EACCES)}\n",
        ),
        (
            OSError(errno.EIO, os.strerror(errno.EIO)),
            f"ocianalyze: exp: {os.strerror(errno.EIO)}\n",
        ),
        (
            OSError(errno.ELOOP, os.strerror(errno.ELOOP), b"/x/l\xff"),
            f"ocianalyze: /x/l\\377: {os.strerror(errno.ELOOP)}\n",
        ),
        (
            Unreadable("exp: index.json", "Permission denied", errno.EACCES),
            "ocianalyze: exp: index.json: Permission denied\n",
        ),
    ],
)
def test_every_os_error_is_exit_2_naming_the_path(
    raised: Exception, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(cli.Exit) as stop, cli._guard("exp"):
        raise raised
    assert stop.value.exit_code == 2
    assert capsys.readouterr().err == line


def test_a_bug_is_still_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(cli.Exit) as stop, cli._guard("exp"):
        raise KeyError("x")
    assert stop.value.exit_code == 3
    assert capsys.readouterr().err == "ocianalyze: internal error: KeyError: 'x'\n"


# --- g20: signals at any moment once the entry point runs ----------------------------------


def _caught(pid: int, sig: int) -> bool:
    """Whether ``pid`` has a handler for ``sig`` (the SigCgt mask of /proc/PID/status)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    mask = int(
        next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt")), 16
    )
    return bool(mask >> (sig - 1) & 1)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
@pytest.mark.parametrize("delay", [0.0, 0.02, 0.1])
def test_a_signal_during_imports_or_work_is_one_line(
    sig: int, code: int, delay: float, slow: Path
) -> None:
    """The entry point catches SIGTERM first thing (Python itself catches only SIGINT), so
    SIGTERM in the mask means "handlers installed; the package is about to be imported"."""
    proc = subprocess.Popen(
        [str(SCRIPT), "verify", "--jobs", "4", str(slow)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while not _caught(proc.pid, signal.SIGTERM) and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.0005)
    time.sleep(delay)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    text = err.decode()
    assert proc.returncode == code, text
    assert text in ("", "ocianalyze: interrupted\n")


@pytest.mark.parametrize("args", [["--help"], ["verify", "--help"], ["--version"], []])
def test_help_and_version_on_a_full_stdout_are_exit_2_in_one_line(args: list[str]) -> None:
    with open("/dev/full", "wb") as full:
        code, err = _run(args, stdout=full)
    assert code == 2
    assert err == f"ocianalyze: stdout: {os.strerror(errno.ENOSPC)}\n"
