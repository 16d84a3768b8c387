"""Many export directories under a small limit of open files: each directory is released
once its blobs are located, so the number of exports is not bounded by the file limit (a
mirror is hundreds or thousands of exports; a common soft limit is 1024)."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

from .exports import Image, layer_tar, oci, to_dir

LIMIT = 48  # open files: start-up and a scan need far fewer; the exports are more
EXPORTS = 60


def _few_files() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (LIMIT, LIMIT))


def test_more_exports_than_open_files(tmp_path: Path) -> None:
    first = to_dir(
        oci([Image([layer_tar({"a": b"a" * 5000}), layer_tar({"b": b"b" * 7000})])]),
        tmp_path / "e0",
    )
    paths = [first] + [
        Path(shutil.copytree(first, tmp_path / f"e{i}", copy_function=os.link))
        for i in range(1, EXPORTS)
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "ocianalyze", "verify", "--format", "json", *map(str, paths)],
        capture_output=True,
        preexec_fn=_few_files,
        timeout=120,
        check=False,
    )
    assert (proc.returncode, proc.stderr) == (0, b"")

    summary = json.loads(proc.stdout)["summary"]
    assert [r["verdict"] for r in summary["rows"]] == ["ok"] * EXPORTS
    # Hard links: two layer files in all, read once each; every other use is shared.
    assert summary["reads"]["tasks"] == 2
    assert summary["reads"]["shared"] == 2 * EXPORTS - 2
