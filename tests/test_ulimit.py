"""Every command on the hostile inputs under a tight address-space limit (``ulimit -v``).

The faults this guards against cost hundreds of MB to GBs (a 300 MiB outer long name, 16 MB of
"[]," in index.json, a nested fan-out walked per path, a listing held whole); a healthy run
of these small inputs fits in well under the limit, so a memory regression fails here as an
out-of-memory line or a crash, never silently."""

from __future__ import annotations

import io
import json
import resource
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from .exports import cj, layer_tar
from .test_one_verdict import OCI_INDEX, image_manifest, layout, put

LIMIT = 400 << 20  # bytes of address space: threads, arenas and all


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ocianalyze", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=_limit,
    )


def _fanout(root: Path) -> Path:
    child = image_manifest(root, [layer_tar({"a": b"a"})])
    child["platform"] = {"os": "linux", "architecture": "amd64"}
    for _ in range(7):
        child = {
            "mediaType": OCI_INDEX,
            **put(root, cj({"schemaVersion": 2, "manifests": [child] * 8})),
        }
    return layout(root, [child])


def _expansion(root: Path) -> Path:
    layout(root, [image_manifest(root, [layer_tar({"a": b"a"})])])
    index = json.loads((root / "index.json").read_bytes())
    index["x"] = [[]] * 5_000_000  # 15 MB: 5 million lists, 300 MB as Python objects
    (root / "index.json").write_bytes(cj(index))
    return root


def _many_files(root: Path) -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for n in range(100_000):
            tf.addfile(tarfile.TarInfo(f"d{n % 100}/f{n}"))
    return layout(root, [image_manifest(root, [buf.getvalue()])])


def _deep(root: Path) -> Path:
    deep = "/".join(["d"] * 20_000)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name in ("a", "b"):
            info = tarfile.TarInfo(f"{deep}/{name}")
            info.size = 1
            tf.addfile(info, io.BytesIO(b"x"))
    whiteout = layer_tar({".wh.d": b""})
    return layout(root, [image_manifest(root, [buf.getvalue(), whiteout])])


INPUTS: dict[str, Callable[[Path], Path]] = {
    "fanout": _fanout,
    "expansion": _expansion,
    "many-files": _many_files,
    "deep": _deep,
}
COMMANDS = [
    ["inspect"],
    ["verify", "--jobs", "2"],
    ["report", "--jobs", "2", "--format", "json"],
    ["files", "--format", "json"],
    ["footprint", "--jobs", "2"],
]


@pytest.mark.parametrize("name", list(INPUTS))
def test_hostile_inputs_fit_a_tight_address_space(name: str, tmp_path: Path) -> None:
    export = INPUTS[name](tmp_path / name)
    for command in COMMANDS:
        run = _run(*command, str(export))
        assert "out of memory" not in run.stderr, (command, run.stderr)
        assert run.returncode in (0, 1, 2) and "Traceback" not in run.stderr, (command, run.stderr)
        assert len(run.stderr.splitlines()) <= 3, (command, run.stderr)


def test_the_limit_is_tight_enough_to_catch_a_regression(tmp_path: Path) -> None:
    """A run that holds 600 MB (as the old readers did on these inputs) fails under it."""
    code = "b = bytearray(600 << 20)"
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        preexec_fn=_limit,
        check=False,
    )
    assert run.returncode != 0 and b"MemoryError" in run.stderr
