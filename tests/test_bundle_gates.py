"""Many exports with the CI gates: each export's gates are checked, a failed rule names its
export, and a gate failure alone makes the run exit 1. Formats made for one export (SARIF,
JUnit) are refused for several."""

from __future__ import annotations

import hashlib
from pathlib import Path

from .builders import build_layout, tar_bytes
from .conftest import run_cli


def _layout(root: Path, files: dict[str, bytes]) -> Path:
    build_layout(root, [tar_bytes(files.items())])
    return root


def _wasteful(root: Path) -> Path:
    """Two layers, the second rewriting the first's 10,000-byte file: 10,000 bytes wasted."""
    build_layout(root, [tar_bytes([("big", b"a" * 10_000)]), tar_bytes([("big", b"b" * 10_000)])])
    return root


def test_each_exports_gates_are_checked_and_named(tmp_path: Path) -> None:
    lean = _layout(tmp_path / "lean", {"f": b"x" * 100})
    wasteful = _wasteful(tmp_path / "wasteful")
    run = run_cli("verify", "-q", "--max-wasted-bytes", "9999", str(lean), str(wasteful))
    assert run.code == 1, run.err
    gate_lines = [line for line in run.err.splitlines() if ": gate: " in line]
    assert len(gate_lines) == 1
    assert gate_lines[0].startswith(f"ocianalyze: {wasteful}: gate: max-wasted-bytes: limit 9999,")
    assert "value 10000" in gate_lines[0]
    raised = run_cli("verify", "-q", "--max-wasted-bytes", "10000", str(lean), str(wasteful))
    assert (raised.code, raised.err) == (0, "")


def test_formats_for_one_export_are_refused_for_several(tmp_path: Path) -> None:
    a = _layout(tmp_path / "a", {"f": hashlib.sha256(b"a").digest()})
    for fmt in ("sarif", "junit"):
        run = run_cli("verify", "--format", fmt, str(a), str(a))
        assert run.code == 2
        assert run.out == ""
        assert f"{fmt} takes one export, not 2" in run.err


def test_html_is_refused_for_several_exports(tmp_path: Path) -> None:
    a = _layout(tmp_path / "a", {"f": b"1"})
    run = run_cli("report", "--format", "html", str(a), str(a))
    assert (run.code, run.out) == (2, "")
    assert "html takes one export, not 2" in run.err
