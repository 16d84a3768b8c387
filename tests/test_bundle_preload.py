"""A Dask worker preload (``dask worker --preload tests/test_bundle_preload.py``): each scan
task waits the seconds written in the file ``$OCIANALYZE_TEST_DELAY_FILE`` names (none when
it is absent), so that a test can kill a worker while it holds tasks. Nothing happens on
import: only ``dask_setup``, which Dask calls in the worker, changes anything."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any


def dask_setup(worker: Any) -> None:
    from ocianalyze import bundle

    scan = bundle.scan_task
    delay_file = Path(os.environ.get("OCIANALYZE_TEST_DELAY_FILE", "/nonexistent"))

    def slow(task: bundle.ScanTask) -> Any:
        with contextlib.suppress(OSError, ValueError):
            time.sleep(float(delay_file.read_text()))
        return scan(task)

    bundle.scan_task = slow
