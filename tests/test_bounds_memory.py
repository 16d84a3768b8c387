"""One memory budget across every scan of a process (decoder output and thread hand-offs).

Peak RSS is measured on a subprocess of its own; sizes keep each run to a few seconds."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest

from ocianalyze.compression import ByteBudget
from ocianalyze.walker import MAX_SCANS, scan

from .builders import build_layout
from .test_bounds_support import gzip_zero_layer, run_rss

TIMEOUT = 10.0  # seconds: generous, a wait that never ends fails instead of hanging


def _taker(share: object, n: int) -> tuple[threading.Thread, threading.Event]:
    done = threading.Event()

    def take() -> None:
        share.take(n)  # type: ignore[attr-defined]
        done.set()

    thread = threading.Thread(target=take, daemon=True)
    thread.start()
    return thread, done


def test_a_take_past_the_cap_waits_for_a_give() -> None:
    pool = ByteBudget(8)
    a, b, c = pool.share(), pool.share(), pool.share()
    a.take(4)  # a share holding nothing is bound by the cap only
    c.take(4)
    thread, done = _taker(b, 1)  # 9 > 8: waits
    assert not done.wait(0.2)
    a.give(4)
    assert done.wait(TIMEOUT)
    thread.join(TIMEOUT)
    assert (pool.used, a.held, b.held, c.held) == (5, 0, 1, 4)


def test_a_share_holding_its_fair_part_waits_even_under_the_cap() -> None:
    pool = ByteBudget(8)
    a, b = pool.share(), pool.share()  # fair part: 8 // 2 = 4
    a.take(4)
    _, done = _taker(a, 1)
    assert not done.wait(0.2)
    b.close()  # a alone: its part is the whole cap again
    assert done.wait(TIMEOUT)
    assert pool.used == 5 and pool.members == 1


def test_closing_a_share_gives_back_what_it_still_holds() -> None:
    pool = ByteBudget(8)
    lost, other = pool.share(), pool.share()
    lost.take(8)  # say a failure skipped the give
    lost.close()
    _, done = _taker(other, 8)  # would wait forever if the 8 bytes stayed counted
    assert done.wait(TIMEOUT)
    assert (pool.used, pool.members) == (8, 1)


def test_a_piece_larger_than_the_cap_moves_when_nothing_is_held() -> None:
    pool = ByteBudget(8)
    share = pool.share()
    share.take(100)
    share.give(100)
    assert pool.used == 0


def test_many_threads_never_hold_more_than_the_cap() -> None:
    pool = ByteBudget(10)
    peak, lock = [0], threading.Lock()

    def work() -> None:
        share = pool.share()
        for _ in range(300):
            share.take(3)
            with lock:
                peak[0] = max(peak[0], pool.used)
            share.give(3)
        share.close()

    threads = [threading.Thread(target=work, daemon=True) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT * 3)
    assert not any(t.is_alive() for t in threads)
    assert peak[0] <= 10
    assert (pool.used, pool.members) == (0, 0)


@pytest.mark.parametrize("jobs", ["8", "2"])
def test_seven_big_gzip_layers_with_many_jobs_stay_under_64_mib(
    tmp_path: Path, jobs: str
) -> None:
    """Handed case g18: every split layer had its own queue of 8 pieces (107 MiB here)."""
    layers = [gzip_zero_layer(f"zeros-{i}", 160) for i in range(7)]
    build_layout(tmp_path / "l", [b for b, _ in layers], diff_ids=[d for _, d in layers])
    code, rss = run_rss("verify", "--quiet", "--jobs", jobs, str(tmp_path / "l"))
    assert code == 0
    assert rss < 64, f"peak RSS {rss:.1f} MiB"


class _Gate:
    """A blob whose first read waits for ``open``; counts the reads in progress at once."""

    active = 0
    peak = 0
    lock = threading.Lock()
    open = threading.Event()

    def __init__(self, data: bytes) -> None:
        self._data, self._started = data, False

    def read(self, n: int = -1, /) -> bytes:
        if not self._started:
            self._started = True
            with _Gate.lock:
                _Gate.active += 1
                _Gate.peak = max(_Gate.peak, _Gate.active)
            _Gate.open.wait(TIMEOUT)
        out, self._data = self._data, b""
        if not out:
            with _Gate.lock:
                _Gate.active -= 1
        return out


def test_at_most_max_scans_read_at_once_whatever_the_threads() -> None:
    blobs = [f"blob {i}".encode() for i in range(MAX_SCANS + 4)]
    results: dict[int, str] = {}

    def one(i: int) -> None:
        results[i] = str(scan(_Gate(blobs[i]), layer=False).digest)

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(blobs))]
    for t in threads:
        t.start()
    pause = threading.Event()  # never set: a sleep
    for _ in range(1000):  # at most 10 s
        if _Gate.active >= MAX_SCANS:
            break
        pause.wait(0.01)
    pause.wait(0.3)  # time for one more scan to start, if it could
    assert _Gate.peak == MAX_SCANS
    _Gate.open.set()
    for t in threads:
        t.join(TIMEOUT)
    assert _Gate.peak == MAX_SCANS
    assert results == {i: "sha256:" + hashlib.sha256(b).hexdigest() for i, b in enumerate(blobs)}
