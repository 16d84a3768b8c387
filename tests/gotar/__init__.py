"""The Go reference reader for tar (main.go) and raw tar builders for the tar tests, and the
builder of the Go reference programs."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def build_go(main: Path, root: Path) -> Path:
    """Build the Go program ``main`` offline into ``root`` (its caches there too) and return
    the executable; skip the test where `go` is not installed (CI installs golang-go)."""
    go = shutil.which("go")
    if go is None:
        pytest.skip("go is not installed (Debian: golang-go)")
    for sub in ("cache", "path", "home"):
        (root / sub).mkdir(exist_ok=True)
    env = dict(os.environ, GOCACHE=str(root / "cache"), GOPATH=str(root / "path"))
    env |= {"HOME": str(root / "home"), "GOPROXY": "off", "GOTOOLCHAIN": "local"}
    env |= {"GOFLAGS": "", "CGO_ENABLED": "0"}
    exe = root / main.parent.name
    subprocess.run([go, "build", "-o", str(exe), str(main)], env=env, check=True, timeout=300)
    return exe
