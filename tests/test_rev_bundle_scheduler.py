"""`--scheduler` addresses that cannot serve a run: each is one line on stderr naming the
option and why, exit 2, within a bounded time (never a hang, never a traceback): a port that
accepts and never answers, a port that answers something other than Dask, a scheduler without
workers, malformed addresses."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import run_cli
from .exports import Image, layer_tar, oci, to_dir

pytest.importorskip("distributed", reason="the dask extra is not installed")

BOUND = 90.0  # seconds: generous, the connection itself gives up after 10 s


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    d = tmp_path_factory.mktemp("sched")
    return [
        str(to_dir(oci([Image([layer_tar({"f": name.encode()})])]), d / name))
        for name in ("a", "b")
    ]


def _peer(answer: bytes | None) -> Iterator[str]:
    """A loopback port that accepts connections and sends ``answer`` (None: nothing)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            held.append(conn)
            if answer is not None:
                conn.sendall(answer)

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()
        for conn in held:
            conn.close()


@pytest.fixture
def silent() -> Iterator[str]:
    yield from _peer(None)


@pytest.fixture
def http() -> Iterator[str]:
    yield from _peer(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello" * 50)


def _refused(address: str, exports: list[str], why: str) -> None:
    run = run_cli("verify", "--scheduler", address, *exports, timeout=BOUND)
    assert (run.code, run.out) == (2, "")
    assert run.err == f"ocianalyze: --scheduler {address}: {why}\n"


def test_a_port_that_never_answers(silent: str, exports: list[str]) -> None:
    _refused(silent, exports, "cannot reach the scheduler (no answer in 10 s)")


def test_a_port_that_is_not_dask(http: str, exports: list[str]) -> None:
    _refused(http, exports, "cannot reach the scheduler (the peer does not speak Dask's protocol)")


def test_a_scheduler_without_workers(exports: list[str]) -> None:
    from dask.distributed import LocalCluster

    with LocalCluster(
        n_workers=0, processes=False, protocol="tcp", host="127.0.0.1", dashboard_address=None
    ) as cluster:
        address = cluster.scheduler_address
        _refused(address, exports, "the scheduler has no workers (none joined in 10 s)")


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("local:abc", "local:N needs N, a number of workers >= 1"),
        ("local:0", "local:N needs N, a number of workers >= 1"),
        (
            "tcp://host:notaport",
            "cannot reach the scheduler (invalid literal for int() with base 10: 'notaport')",
        ),
    ],
)
def test_malformed_addresses(address: str, why: str, exports: list[str]) -> None:
    _refused(address, exports, why)


def test_a_cluster_that_loses_every_worker_ends_the_run(tmp_path: Path) -> None:
    """The only worker is killed while it holds scan tasks: the tasks would wait for a worker
    forever; the run ends, one line, exit 2."""
    from dask.distributed import Client, LocalCluster

    from .test_bundle_dask import DASK, PRELOAD, START_TIMEOUT, Cluster, _victim_busy

    if not DASK.exists():
        pytest.skip("no `dask` command beside the interpreter")
    paths = [
        str(to_dir(oci([Image([layer_tar({"f": f"{i}".encode()})])]), tmp_path / f"e{i}"))
        for i in range(12)
    ]
    delay = tmp_path / "delay"
    delay.write_text("0.5")
    env = {**os.environ, "OCIANALYZE_TEST_DELAY_FILE": str(delay)}
    with (
        LocalCluster(
            n_workers=0, processes=False, protocol="tcp", host="127.0.0.1", dashboard_address=None
        ) as local,
        Client(local.scheduler_address, timeout=START_TIMEOUT) as client,
    ):
        address = local.scheduler_address
        args = [address, "--nthreads", "1", "--no-nanny", "--name", "only", "--no-dashboard"]
        worker = subprocess.Popen(
            [DASK, "worker", *args, "--preload", PRELOAD],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        try:
            client.wait_for_workers(1, timeout=START_TIMEOUT)
            run = subprocess.Popen(
                [sys.executable, "-m", "ocianalyze", "verify", "--scheduler", address, *paths],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            view = Cluster(address, {}, client, delay)
            deadline = time.monotonic() + START_TIMEOUT
            while not _victim_busy(view, "only"):
                assert run.poll() is None and time.monotonic() < deadline, "no task started"
                time.sleep(0.02)
            worker.send_signal(signal.SIGKILL)
            out, err = run.communicate(timeout=BOUND)
        finally:
            if worker.poll() is None:
                worker.kill()
            worker.wait(timeout=20)
    assert (run.returncode, out) == (2, b"")
    assert err.decode() == (
        "ocianalyze: --scheduler: the cluster has had no workers for 30 s: the run cannot finish\n"
    )


def test_a_local_cluster_beside_another_says_nothing_of_it(exports: list[str]) -> None:
    """Dask's default HTTP port (8787) taken, as by any cluster already running here: the
    local cluster takes another port, and stderr stays the run's own (empty when all is ok)."""
    taken = socket.socket()
    try:
        taken.bind(("0.0.0.0", 8787))
        taken.listen(1)
    except OSError:  # already taken by someone else: the condition holds all the same
        pass
    try:
        run = run_cli("verify", "--scheduler", "local:1", *exports, timeout=BOUND)
    finally:
        taken.close()
    assert (run.code, run.err) == (0, "")
    last = run.out.splitlines()[-1]
    assert last.startswith("2 exports: 2 ok, 0 failed, 0 unreadable; 2 reads of ")
