"""diff's command line: a format only ``report`` writes is a usage error (exit 2), never an
internal error (exit 3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from . import exports as ex
from .conftest import run_cli


@pytest.mark.parametrize("fmt", ["sarif", "junit", "html"])
def test_a_format_diff_does_not_write_is_a_usage_error(tmp_path: Path, fmt: str) -> None:
    side = ex.to_dir(ex.oci([ex.Image([ex.layer_tar({"a": b"a"})])]), tmp_path / "x")
    run = run_cli("diff", "--format", fmt, str(side), str(side))
    assert run.code == 2, run.err
    assert run.out == ""
    assert run.err == (
        f"ocianalyze: usage: Invalid value for '--format' / '-f': '{fmt}' is not one of "
        "'text', 'json', 'markdown'. (see python -m ocianalyze diff --help)\n"
    )


def test_diff_offers_exactly_the_formats_it_renders(tmp_path: Path) -> None:
    from ocianalyze.report import DiffFormat
    from ocianalyze.report.diff import RENDERERS

    assert tuple(RENDERERS) == tuple(f.value for f in DiffFormat)
    helped = run_cli("diff", "--help")
    assert "--format text|json|markdown" in helped.out


def test_an_empty_have_is_worded_as_an_empty_side(tmp_path: Path) -> None:
    side = ex.to_dir(ex.oci([ex.Image([ex.layer_tar({"a": b"a"})])]), tmp_path / "x")
    run = run_cli("diff", "--have", " ", str(side), str(side))
    assert run.code == 2
    assert run.out == ""
    assert run.err == (
        "ocianalyze: usage: Invalid value for '--have': an empty path names no export "
        "(see python -m ocianalyze diff --help)\n"
    )
