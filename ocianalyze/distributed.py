"""Run a bundle's scan tasks on a Dask cluster (``dask.distributed``), imported only for
``--scheduler``.

``--scheduler ADDRESS`` connects to a running scheduler whose workers see the same paths as
this machine (shared storage); ``--scheduler local[:N]`` starts a ``LocalCluster`` of N worker
processes (default: one per core), one thread each. Each task is submitted with its size as
its priority (largest first) and a few retries; results stream back with ``as_completed`` as
tasks finish. A worker that dies mid-task has its tasks run again elsewhere by the scheduler
(the task is pure: running it twice gives the same scan). A path a worker cannot open is
already that blob's problem (``bundle.run_task``); a task that fails for any other reason
(it killed too many workers, the worker cannot import ocianalyze) becomes the blob's
``unreadable_blob`` problem, naming the cause, and never ends the run. What would make the
run wait forever ends it instead (``SchedulerError``, one line): a scheduler that does not
answer within CONNECT_TIMEOUT, one with no worker joining within it, a cluster left without
any worker for NO_WORKERS seconds mid-run (Dask keeps such tasks waiting for a worker).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import CancelledError
from contextlib import contextmanager
from typing import Any

from .bundle import Executor, ScanTask, TaskResult, run_task
from .errors import Kind, OciError, Problem
from .record import record

CONNECT_TIMEOUT = 10.0  # seconds: a scheduler that does not answer in this long is unreachable
RETRIES = 2  # a task raising on a worker is tried this many more times
NO_WORKERS = 30.0  # seconds: a cluster without any worker this long cannot finish the run
_POLL = 0.02  # seconds between looks for finished tasks
_POLL_WORKERS = 2.0  # seconds between asking the scheduler whether it still has workers
_LOCAL = "local"


class SchedulerError(OciError):
    """The cluster cannot be used: Dask is not installed, the scheduler cannot be reached,
    or ``--scheduler`` names no address. The CLI reports it in one line (exit 2)."""


@record
class Cluster:
    """A connected cluster: ``run`` is the bundle's executor, ``workers`` how many worker
    processes the scheduler had when the run started, ``scheduler`` what was asked for."""

    run: Executor
    workers: int
    scheduler: str


def parse(spec: str) -> tuple[str | None, int]:
    """``local[:N]`` → (None, N) (N = 0: one per core); anything else is an address → (it, 0).
    Raises SchedulerError for an empty address or a bad N."""
    if spec == _LOCAL or spec.startswith(_LOCAL + ":"):
        count = spec[len(_LOCAL) + 1 :] if spec != _LOCAL else "0"
        if not count.isdigit() or (spec != _LOCAL and int(count) < 1):
            raise SchedulerError(f"--scheduler {spec}", "local:N needs N, a number of workers >= 1")
        return None, int(count)
    if not spec.strip():
        raise SchedulerError("--scheduler", "an empty address names no scheduler")
    return spec, 0


@contextmanager
def connect(spec: str) -> Iterator[Cluster]:
    """Connect to the scheduler ``spec`` names (or start a local cluster) for the length of
    the ``with`` block. Raises SchedulerError."""
    address, count = parse(spec)
    try:
        import dask.distributed
    except ImportError:
        raise SchedulerError(
            f"--scheduler {spec}", "needs Dask: pip install 'ocianalyze[dask]'"
        ) from None
    _quiet()
    dd: Any = dask.distributed  # untyped: its calls are checked by the tests
    cluster: Any = None
    try:
        if address is None:
            workers = count or len(os.sched_getaffinity(0))
            with warnings.catch_warnings():  # "Port 8787 is already in use": another cluster's
                warnings.simplefilter("ignore")  # HTTP port, the scheduler takes another one
                cluster = dd.LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                )
            client: Any = dd.Client(cluster, timeout=CONNECT_TIMEOUT)
        else:
            _probe(address)
            client = dd.Client(address, timeout=CONNECT_TIMEOUT)
    except Exception as exc:  # a bad address, a refusal, a silent peer, a peer not Dask
        if cluster is not None:
            cluster.close()
        why = f"cannot reach the scheduler ({_why(exc)})"
        raise SchedulerError(f"--scheduler {spec}", why) from None
    try:
        workers = _workers(client, spec)
        yield Cluster(_executor(client), workers, spec)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _probe(address: str) -> None:
    """Connect once and close, within CONNECT_TIMEOUT seconds in all. Dask's own connect
    reads the peer's handshake without a deadline (``distributed.comm.core.connect``), so a
    port that accepts and never answers would hold ``Client`` forever. Raises what the
    connection raises (TimeoutError, OSError, ValueError for a bad address...)."""
    import distributed

    dd: Any = distributed  # untyped
    dask_connect = dd.comm.connect
    args = dd.Security().get_connection_args("client")

    async def once() -> None:
        comm = await asyncio.wait_for(
            dask_connect(address, timeout=CONNECT_TIMEOUT, **args), CONNECT_TIMEOUT
        )
        await comm.close()

    asyncio.run(once())


def _why(exc: Exception) -> str:
    """Why the scheduler cannot be reached, in words."""
    if isinstance(exc, TimeoutError):
        return f"no answer in {CONNECT_TIMEOUT:g} s"
    if isinstance(exc, MemoryError):  # the peer's bytes, read as Dask frame lengths, are huge
        return "the peer does not speak Dask's protocol"
    return str(exc) or type(exc).__name__


def _workers(client: Any, spec: str) -> int:
    """How many workers the scheduler has, waiting up to CONNECT_TIMEOUT seconds for a first
    one: with none, the tasks would wait forever. Raises SchedulerError."""
    try:
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
    except TimeoutError:
        raise SchedulerError(
            f"--scheduler {spec}",
            f"the scheduler has no workers (none joined in {CONNECT_TIMEOUT:g} s)",
        ) from None
    return len(client.scheduler_info().get("workers", {}))


def _quiet() -> None:
    """Dask logs to stderr (a worker lost, a task retried): the run's output says what matters."""
    for name in ("distributed", "dask"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _executor(client: Any) -> Executor:
    import dask.distributed

    as_completed: Any = dask.distributed.as_completed

    def run(tasks: Sequence[ScanTask]) -> Iterator[tuple[int, TaskResult]]:
        token = uuid.uuid4().hex  # keys of this run: never reuse another run's results
        index: dict[str, int] = {}
        futures = []
        for i, task in enumerate(tasks):
            key = f"ocianalyze-scan-{token}-{i}"
            index[key] = i
            futures.append(
                client.submit(run_task, task, key=key, priority=task.size, retries=RETRIES)
            )
        try:
            for future in _finished(client, as_completed(futures)):
                yield index[future.key], _result(future, tasks[index[future.key]])
        finally:
            client.cancel(futures)

    return run


def _finished(client: Any, done: Any) -> Iterator[Any]:
    """The futures of ``done`` (an ``as_completed``) as they finish. Dask keeps a task without
    a worker waiting forever: after NO_WORKERS seconds with no worker at all, the run ends
    (SchedulerError) rather than hang."""
    seen = time.monotonic()  # when the cluster last had a worker
    ask = seen + _POLL_WORKERS  # when to ask the scheduler again
    while True:
        batch = done.next_batch(block=False)
        yield from batch
        now = time.monotonic()
        if batch:
            seen = now
            continue
        if done.is_empty():
            return
        if now >= ask:
            ask = now + _POLL_WORKERS
            if _has_workers(client):
                seen = now
            elif now - seen >= NO_WORKERS:
                why = f"the cluster has had no workers for {NO_WORKERS:g} s: the run cannot finish"
                raise SchedulerError("--scheduler", why)
        time.sleep(_POLL)


def _has_workers(client: Any) -> bool:
    try:
        return bool(client.scheduler_info().get("workers"))
    except Exception:  # the scheduler does not answer: no worker can be counted on
        return False


def _result(future: Any, task: ScanTask) -> TaskResult:
    """The task's result; a task that failed on the cluster is its blob's problem. Losing
    the scheduler itself ends the run (SchedulerError)."""
    try:
        result = future.result()
    except (CancelledError, asyncio.CancelledError) as exc:  # the client lost the scheduler
        raise SchedulerError("--scheduler", f"the scheduler went away ({exc!r})") from None
    except Exception as exc:  # KilledWorker, an import error on the worker...: the blob's
        where = f"{task.export}: {task.locator.name}"
        return TaskResult(None, Problem(Kind.UNREADABLE_BLOB, "", where, _cause(exc)))
    if not isinstance(result, TaskResult):
        raise TypeError(f"a Dask task returned {type(result).__name__}")
    return result


def _cause(exc: Exception) -> str:
    return f"the cluster could not scan it ({type(exc).__name__}: {exc})"
