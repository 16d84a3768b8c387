"""The damaged file-system cases through the command line, as a user who cannot bypass file
modes (as root: ``nobody``, else root without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH): an OS
error on a blob is that blob's problem (exit 1), on a root file the export's (exit 2, one
line); never exit 3, never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .exports import Image, Written, layer_tar, legacy, oci, skopeo_dir, to_dir
from .test_fs_dirstorage import _as_nobody, _without_dac_caps

T = [layer_tar({"a": b"1"}), layer_tar({"b": b"2"})]
FORMATS: dict[str, Callable[[], Written]] = {
    "oci": lambda: oci([Image(T)]),
    "docker25": lambda: oci([Image(T)], docker25=True),
    "skopeo": lambda: skopeo_dir(Image(T)),
    "legacy": lambda: legacy([Image(T)]),
}
ROOT_FILE = {
    "oci": "index.json",
    "docker25": "index.json",
    "skopeo": "manifest.json",
    "legacy": "manifest.json",
}


@pytest.fixture
def top() -> Iterator[Path]:
    """A world-readable folder (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="ocianalyze-cli-"))
    path.chmod(0o755)
    yield path
    for p in [path, *path.rglob("*")]:
        if not p.is_symlink():
            p.chmod(0o755)
    shutil.rmtree(path)


def _unprivileged(*args: str) -> subprocess.CompletedProcess[str]:
    if sys.platform != "linux":
        pytest.skip("Linux only")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    ways = [_as_nobody, _without_dac_caps] if os.geteuid() == 0 else [None]
    last = ""
    for preexec in ways:
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "ocianalyze", *args],
                capture_output=True,
                text=True,
                timeout=60,
                preexec_fn=preexec,
                env=env,
                cwd="/",
                check=False,
            )
        except OSError as exc:  # this user cannot run the interpreter
            last = str(exc)
            continue
        if "ModuleNotFoundError" not in proc.stderr:  # else: the package is unreadable to it
            return proc
        last = proc.stderr[-200:]
    pytest.skip(f"cannot run as an unprivileged user: {last}")


def _export(fmt: str, top: Path) -> tuple[Written, Path]:
    w = FORMATS[fmt]()
    root = to_dir(w, top / fmt)
    for p in [root, *root.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    return w, root


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_an_unreadable_blob_is_that_blobs_problem(fmt: str, top: Path) -> None:
    w, root = _export(fmt, top)
    (root / w.layer_names[1]).chmod(0)
    run = _unprivileged("verify", "--format", "json", str(root))
    if run.returncode == 0:
        pytest.skip("this user reads mode-000 files")
    assert run.returncode == 1, run.stderr
    problems = json.loads(run.stdout)["problems"]
    assert "unreadable_blob" in {p["kind"] for p in problems}
    assert any("Permission denied" in p["message"] for p in problems)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_an_unreadable_root_file_is_one_line_exit_2(fmt: str, top: Path) -> None:
    _, root = _export(fmt, top)
    (root / ROOT_FILE[fmt]).chmod(0)
    for command in ("inspect", "verify", "report"):
        run = _unprivileged(command, str(root))
        if run.returncode == 0:
            pytest.skip("this user reads mode-000 files")
        assert run.returncode == 2 and len(run.stderr.splitlines()) == 1, (command, run.stderr)
        assert "Permission denied" in run.stderr and "Traceback" not in run.stderr


def test_an_unsearchable_export_directory_is_one_line_exit_2(top: Path) -> None:
    _, root = _export("oci", top)
    root.chmod(0)
    run = _unprivileged("verify", str(root))
    if run.returncode == 0:
        pytest.skip("this user searches mode-000 directories")
    assert run.returncode == 2 and len(run.stderr.splitlines()) == 1, run.stderr


def test_an_unsearchable_blobs_folder_makes_each_blob_a_problem(top: Path) -> None:
    _, root = _export("oci", top)
    (root / "blobs" / "sha256").chmod(0)
    run = _unprivileged("verify", "--format", "json", str(root))
    if run.returncode == 0:
        pytest.skip("this user searches mode-000 directories")
    assert run.returncode == 1, run.stderr
    assert {p["kind"] for p in json.loads(run.stdout)["problems"]} == {"unreadable_blob"}
