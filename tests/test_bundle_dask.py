"""`--scheduler` on a real Dask cluster started here: a `dask scheduler` and two `dask worker`
processes on the loopback address. The bundle's JSON (less the ``run`` part: executor, workers,
seconds) is the local run's, also when one worker is killed while it holds tasks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("distributed", reason="the dask extra is not installed")

from .conftest import run_cli
from .test_bundle_build import Built, build

DASK = Path(sys.executable).with_name("dask")
PRELOAD = Path(__file__).with_name("test_bundle_preload.py")
START_TIMEOUT = 60.0  # seconds: a loaded machine starts a scheduler and workers slowly


@dataclass
class Cluster:
    address: str
    workers: dict[str, subprocess.Popen[bytes]]
    client: Any
    delay: Path


def _wait_for(path: Path, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the Dask scheduler did not start (exit {proc.poll()})")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if not DASK.exists():
        pytest.skip("no `dask` command beside the interpreter")
    from dask.distributed import Client

    d = tmp_path_factory.mktemp("dask")
    info, delay = d / "scheduler.json", d / "delay"
    env = {**os.environ, "OCIANALYZE_TEST_DELAY_FILE": str(delay)}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
    host = ["--host", "127.0.0.1", "--no-dashboard"]
    scheduler = subprocess.Popen(
        [DASK, "scheduler", *host, "--port", "0", "--scheduler-file", info], **quiet
    )
    procs = [scheduler]
    try:
        _wait_for(info, scheduler)
        for name in ("w1", "w2"):
            args = ["--scheduler-file", info, "--nthreads", "1", "--no-nanny", "--name", name]
            procs.append(
                subprocess.Popen([DASK, "worker", *args, *host, "--preload", PRELOAD], **quiet)
            )
        address = json.loads(info.read_text())["address"]
        client = Client(address, timeout=START_TIMEOUT)
        client.wait_for_workers(2, timeout=START_TIMEOUT)
        yield Cluster(address, {"w1": procs[1], "w2": procs[2]}, client, delay)
        client.close()
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build(tmp_path_factory.mktemp("bundle"))


def _doc(out: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The document less its ``run`` part (how it ran, and how long), and that part."""
    doc: dict[str, Any] = json.loads(out)
    return {k: v for k, v in doc.items() if k != "run"}, doc["run"]


def _run(command: str, paths: list[Path], *extra: str) -> tuple[dict[str, Any], dict[str, Any]]:
    run = run_cli(command, "--format", "json", *extra, *map(str, paths), timeout=120)
    assert run.code == 1, run.err  # two exports are damaged
    assert "Traceback" not in run.err
    return _doc(run.out)


@pytest.mark.parametrize("command", ["verify", "report"])
def test_cluster_gives_the_local_result(cluster: Cluster, bundle: Built, command: str) -> None:
    local, how = _run(command, bundle.paths)
    remote, how_remote = _run(command, bundle.paths, "--scheduler", cluster.address)
    assert remote == local
    assert how["executor"] == "threads" and how["local_only"] == []
    assert how_remote["executor"] == "dask" and how_remote["workers"] == 2
    assert how_remote["local_only"] == [str(p) for p in bundle.streams]


def test_streams_stay_local_and_say_so(cluster: Cluster, bundle: Built) -> None:
    paths = [bundle.paths[0], *bundle.streams]
    run = run_cli("verify", "--scheduler", cluster.address, *map(str, paths))
    assert run.code == 0, run.err
    note = "a one-pass stream, read on this machine, not by the cluster"
    assert run.err.splitlines() == [f"ocianalyze: {p}: {note}" for p in bundle.streams]
    assert [line for line in run.out.splitlines() if line.startswith("note: ")] == [
        f"note: {p}: {note}" for p in bundle.streams
    ]


def test_local_cluster_of_two_processes(bundle: Built) -> None:
    local, _ = _run("verify", bundle.paths)
    remote, how = _run("verify", bundle.paths, "--scheduler", "local:2")
    assert remote == local
    assert how["executor"] == "dask" and how["workers"] == 2


def test_bad_scheduler_is_one_line_exit_2(bundle: Built) -> None:
    run = run_cli("verify", "--scheduler", "local:0", str(bundle.paths[0]))
    assert run.code == 2
    assert run.err == (
        "ocianalyze: --scheduler local:0: local:N needs N, a number of workers >= 1\n"
    )


def _victim_busy(cluster: Cluster, name: str) -> bool:
    workers = cluster.client.scheduler_info()["workers"]
    address = next((a for a, w in workers.items() if w.get("name") == name), None)
    keys = cluster.client.processing().get(address, ()) if address else ()
    return any(str(k).startswith("ocianalyze-scan-") for k in keys)


def test_a_worker_killed_mid_run_changes_nothing(cluster: Cluster, bundle: Built) -> None:
    """Runs last (it leaves one worker): each task waits 0.15 s on the workers, w2 is killed
    (SIGKILL) once it holds scan tasks; the scheduler runs them again on w1."""
    local, _ = _run("verify", bundle.paths)
    cluster.delay.write_text("0.15")
    try:
        args = [sys.executable, "-m", "ocianalyze", "verify", "--format", "json"]
        proc = subprocess.Popen(
            [*args, "--scheduler", cluster.address, *map(str, bundle.paths)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not _victim_busy(cluster, "w2"):
            assert proc.poll() is None and time.monotonic() < deadline, "w2 never got a task"
            time.sleep(0.02)
        cluster.workers["w2"].send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=120)
    finally:
        cluster.delay.unlink()
    assert cluster.workers["w2"].wait(timeout=10) == -signal.SIGKILL
    assert proc.returncode == 1, err
    remote, how = _doc(out.decode())
    assert remote == local
    assert how["executor"] == "dask"
