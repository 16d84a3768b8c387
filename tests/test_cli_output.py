"""Every command on every sample: text fits 100 columns, and nothing is written anywhere near
the input (the directory holding it is byte-identical afterwards)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .conftest import SAMPLE_NAMES, SAMPLES, run_cli, tree_digest

COMMANDS = [
    ["inspect"],
    ["verify"],
    ["report"],
    ["footprint"],
    ["report", "--format", "markdown"],
    ["inspect", "--format", "json"],
    ["report", "--format", "json"],
]


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_commands_leave_the_inputs_folder_untouched(name: str, tmp_path: Path) -> None:
    holder = tmp_path / "holder"
    holder.mkdir()
    target = holder / name
    (shutil.copytree if (SAMPLES / name).is_dir() else shutil.copy2)(SAMPLES / name, target)
    before = tree_digest(holder)
    modes = {p: p.stat().st_mode for p in holder.rglob("*")}
    for args in COMMANDS:
        run = run_cli(*args, name, cwd=holder)  # a short relative path, as people type it
        assert run.code in (0, 1), (args, run.err)
        assert "Traceback" not in run.err
        if args[-1] in ("inspect", "verify", "report", "footprint"):
            # Problem lines are log lines (full digests, for grep), not part of the tables.
            too_wide = [
                line
                for line in run.out.splitlines()
                if len(line) > 100 and not line.startswith(("warning: ", "error: ", "notice: "))
            ]
            assert not too_wide, (args, too_wide)
    assert tree_digest(holder) == before
    assert {p: p.stat().st_mode for p in holder.rglob("*")} == modes


def test_files_listing_fits_and_leaves_input_untouched() -> None:
    before = tree_digest(SAMPLES / "oci-layout")
    run = run_cli("files", "--layer", "1", str(SAMPLES / "oci-layout"))
    assert run.code == 0
    assert all(len(line) <= 100 for line in run.out.splitlines())
    assert tree_digest(SAMPLES / "oci-layout") == before
