"""A scan task is pure and picklable: run in a fresh interpreter (as on a Dask worker, with
no state of the process that planned it) it gives what it gives here; a file that process
may not open is that blob's ``unreadable_blob`` problem, never an exception."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ocianalyze.bundle import Locator, ScanTask, TaskResult, run_task
from ocianalyze.verify import Read
from ocianalyze.walker import ScanOptions

from .exports import Image, gz, layer_tar, oci, sha, to_dir, to_tar
from .test_fs_dirstorage import _without_dac_caps

RUN = "import pickle, sys; from ocianalyze.bundle import run_task\n" + (
    "sys.stdout.buffer.write(pickle.dumps(run_task(pickle.loads(sys.stdin.buffer.read()))))"
)
TAR = layer_tar({"etc/hello": b"hello, world\n" * 100})


def _fresh(task: ScanTask, preexec: Callable[[], None] | None = None) -> TaskResult:
    """``run_task(task)`` in a new interpreter started elsewhere (cwd ``/``)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    proc = subprocess.run(
        [sys.executable, "-c", RUN],
        input=pickle.dumps(task),
        capture_output=True,
        cwd="/",
        env=env,
        preexec_fn=preexec,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    result = pickle.loads(proc.stdout)
    assert isinstance(result, TaskResult)
    return result


def _layer_task(root: Path) -> ScanTask:
    layout = to_dir(oci([Image([TAR])]), root / "layout")
    name = f"blobs/sha256/{sha(gz(TAR))[7:]}"
    size = (layout / name).stat().st_size
    return ScanTask("layout", Locator(str(layout), name), "sha256", Read.LAYER, ScanOptions(), size)


def test_a_file_task_in_a_fresh_process(tmp_path: Path) -> None:
    task = _layer_task(tmp_path)
    result = _fresh(task)
    assert result.problem is None and result.scan is not None
    assert str(result.scan.digest) == sha(gz(TAR))
    assert str(result.scan.diff_id) == sha(TAR)
    assert result.scan.size == len(gz(TAR))
    here = run_task(task).scan
    assert here is not None
    assert (here.digest, here.diff_id, here.size) == (
        result.scan.digest,
        result.scan.diff_id,
        result.scan.size,
    )


def test_a_span_task_in_a_fresh_process(tmp_path: Path) -> None:
    data = to_tar(oci([Image([TAR])]))
    tar = tmp_path / "image.tar"
    tar.write_bytes(data)
    layer = gz(TAR)
    offset = data.index(layer)  # the member's data, found independently of ocianalyze
    locator = Locator(str(tar), "blobs/sha256/x", (offset, len(layer)))
    task = ScanTask("image.tar", locator, "sha256", Read.LAYER, ScanOptions(), len(layer))
    result = _fresh(task)
    assert result.scan is not None and result.problem is None
    assert (str(result.scan.digest), str(result.scan.diff_id)) == (sha(layer), sha(TAR))


def test_a_file_the_process_may_not_open_is_the_blobs_problem(tmp_path: Path) -> None:
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("needs root, to drop the capability to bypass file modes")
    tmp_path.chmod(0o755)
    task = _layer_task(tmp_path)
    blob = Path(task.locator.root, task.locator.name)
    blob.chmod(0)
    try:
        result = _fresh(task, _without_dac_caps)
    finally:
        blob.chmod(0o644)
    assert result.scan is None and result.problem is not None
    assert result.problem.kind.value == "unreadable_blob"
    assert result.problem.message == "Permission denied"
    assert result.problem.path == f"layout: {task.locator.name}"
