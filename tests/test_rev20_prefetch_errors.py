"""A chunk the sink takes from the budget to read ahead is given back whatever the read
raises: the sink gives bytes back, so bytes it keeps would leave the decoding thread waiting
on the budget for ever (walker._Pulled.prefetch)."""

from __future__ import annotations

import io
import threading
import time
from typing import Any

import pytest

from ocianalyze import walker
from ocianalyze.compression import ByteBudget
from ocianalyze.walker import ScanOptions, scan

from .test_perf_split import TAR, _zstd_frames


class _NoMemory(io.BytesIO):
    """A file whose first read on the sink thread fails as an allocation under a tight
    ``ulimit -v`` would (MemoryError: neither OSError nor ValueError)."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.failed = False

    def read(self, n: int | None = -1) -> bytes:
        if threading.current_thread().name == "tar-sink" and not self.failed:
            self.failed = True
            raise MemoryError("no room for the chunk")
        time.sleep(0.002)  # the decoding thread lingers: the sink idles and reads ahead
        return super().read(n)


def test_a_failed_read_ahead_gives_its_chunk_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(walker, "IN_FLIGHT", ByteBudget(1))
    monkeypatch.setattr(walker, "PULL_CHUNK", 10_007)
    stream = _NoMemory(_zstd_frames(TAR))
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(scan(stream, layer=True, opts=ScanOptions(split=True)))
        except MemoryError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=60)  # generous: a deadlock, not a slow machine, would pass it
    assert stream.failed  # the sink did read ahead and meet the error
    assert outcome, "the scan waited for ever on bytes the failed read ahead kept"
    assert isinstance(outcome[0], MemoryError)  # the sink's error reaches the caller
    assert walker.IN_FLIGHT.used == 0
    assert walker.IN_FLIGHT.members == 0
