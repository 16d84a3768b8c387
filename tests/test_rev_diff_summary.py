"""diff's last line fits 100 columns whatever the counts: past that, the file counts and the
bytes to send go on an indented second line (text only; markdown keeps one line)."""

from __future__ import annotations

from pathlib import Path

from ocianalyze.diff.result import Change
from ocianalyze.report import diff as render

from .builders import build_layout, tar_bytes
from .conftest import run_cli


class _Files:
    def __init__(self, counts: dict[Change, int]) -> None:
        self.counts = counts

    def count(self, change: Change) -> int:
        return self.counts.get(change, 0)


class _Image:
    def __init__(self, files: _Files) -> None:
        self.files, self.differs = files, True


class _Delta:
    missing_bytes = 123_456_789


class _Diff:
    def __init__(self, changed: int) -> None:
        counts = {Change.added: 12_345_678, Change.removed: 12_345_678, Change.changed: changed}
        self.images = [_Image(_Files(counts))]
        self.added: list[object] = []
        self.removed: list[object] = []
        self.differs = True
        self.delta = _Delta()


def test_a_long_summary_wraps_under_100_columns() -> None:
    text = render.summary_line(_Diff(20_000_000))  # type: ignore[arg-type]
    head, tail = text.split("\n")
    assert head == "summary: differences; images: 1 changed, 0 same, 0 added, 0 removed;"
    assert tail == "  files: +12345678 -12345678 ~20000000; send 123.5 MB"
    one = render.summary_line(_Diff(20_000_000), wrap=False)  # type: ignore[arg-type]
    assert one == f"{head} {tail.strip()}" and len(one) > 100


def test_a_short_summary_stays_one_line() -> None:
    diff = _Diff(2)
    diff.images[0].files.counts = {Change.added: 1, Change.removed: 2, Change.changed: 2}
    text = render.summary_line(diff)  # type: ignore[arg-type]
    assert text == (
        "summary: differences; images: 1 changed, 0 same, 0 added, 0 removed; "
        "files: +1 -2 ~2; send 123.5 MB"
    )


def test_image_and_platform_exclude_each_other(tmp_path: Path) -> None:
    build_layout(tmp_path / "a", [tar_bytes([("f", b"1")])])
    run = run_cli("diff", "--image", "test", "--platform", "linux/amd64", str(tmp_path / "a"),
                  str(tmp_path / "a"))  # fmt: skip
    assert (run.code, run.out) == (2, "")
    assert "--image and --platform exclude each other" in run.err
    assert run.err.count("\n") == 1
