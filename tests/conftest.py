"""Shared fixtures: the sample exports and a way to run the CLI as a user would."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SAMPLES = Path(__file__).resolve().parent.parent / "sample_images"
SAMPLE_NAMES = sorted(
    p.name
    for p in SAMPLES.iterdir()
    if p.name not in ("make_samples.py", "README.md", "__pycache__")
)


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def run_cli(
    *args: str, stdin: bytes | None = None, timeout: float = 120, cwd: Path | None = None
) -> Run:
    proc = subprocess.run(
        [sys.executable, "-m", "ocianalyze", *args],
        input=stdin,
        capture_output=True,
        timeout=timeout,
        check=False,
        cwd=cwd,
    )
    return Run(proc.returncode, proc.stdout.decode(), proc.stderr.decode())


def tree_digest(path: Path) -> dict[str, str]:
    """A checksum of every file under ``path`` (or of ``path`` itself), to prove it unchanged."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


@pytest.fixture
def cli() -> Callable[..., Run]:
    return run_cli


@pytest.fixture
def sample_copy(tmp_path: Path) -> Callable[[str], Path]:
    """A writable copy of a sample, for tests that damage it."""

    def copy(name: str) -> Path:
        src, dst = SAMPLES / name, tmp_path / name
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copy2(src, dst)
        return dst

    return copy
