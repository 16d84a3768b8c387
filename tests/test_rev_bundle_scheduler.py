"""`--scheduler` addresses that cannot serve a run: each is one line on stderr naming the
option and why, exit 2, within a bounded time (never a hang, never a traceback): a port that
accepts and never answers, a port that answers something other than Dask, a scheduler without
workers, malformed addresses."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

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
