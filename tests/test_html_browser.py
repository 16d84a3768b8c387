"""The HTML page in a real browser: Debian's headless Chromium loads the page of the
multi-platform sample with no console message at all (the page runs no script, so any message
is an error: a refused fetch, a refused script), its DOM holds the chart's bars and the tables
with the exact sizes, and a screenshot is written. Skipped when Chromium is absent."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from ocianalyze.report import REPORT, ReportFormat

from .test_html_render import MULTI, Page, _hostile, expected_bars, html_of, report_of, truth

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")


def chromium(tmp_path: Path, page: Path, *args: str) -> tuple[str, list[str]]:
    """Run headless Chromium on ``page``: its stdout, and the console messages it logged."""
    assert CHROMIUM is not None
    proc = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            *args,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    return proc.stdout, console


def _write(tmp_path: Path, html: str, name: str = "report.html") -> Path:
    path = tmp_path / name
    path.write_text(html, encoding="utf-8")
    return path


def test_the_console_check_sees_errors(tmp_path: Path) -> None:
    """The check itself: a script the policy refuses, and one that throws, are both seen."""
    html = html_of(MULTI)
    refused = _write(tmp_path, html.replace("</main>", "<script>1</script></main>"), "a.html")
    assert chromium(tmp_path, refused, "--dump-dom")[1]
    no_policy = html.replace("http-equiv", "data-x").replace("</main>", "<script>nope()</script>")
    assert any(
        "Uncaught" in m for m in chromium(tmp_path, _write(tmp_path, no_policy), "--dump-dom")[1]
    )


def test_the_page_renders_with_no_console_message(tmp_path: Path) -> None:
    dom, console = chromium(tmp_path, _write(tmp_path, html_of(MULTI)), "--dump-dom")
    assert console == []
    page = Page(dom)
    want = truth(MULTI)
    assert page.classes[("g", "bar")] == expected_bars(want) == 4
    assert page.tags["svg"] == 1
    assert page.sizes("layer-row") == [list(r) for image in want.layers for r in image]
    assert page.sizes("platform-row") == [list(p) for p in want.platforms]
    assert page.sizes("largest-row") == [[n] for image in want.largest for n in image]
    assert "✓ Verified" in page.texts


def test_a_hostile_name_stays_text_in_the_browser(tmp_path: Path) -> None:
    html = REPORT[ReportFormat.HTML](report_of(_hostile(tmp_path)))
    dom, console = chromium(tmp_path, _write(tmp_path, html), "--dump-dom")
    assert console == []
    page = Page(dom)
    assert "script" not in page.tags
    assert any('<script>alert("ref")</script>\\033[31m' in t for t in page.texts)
    assert any("<script>alert('file')</script>.txt" in t for t in page.texts)


def test_a_screenshot_is_written(tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    _, console = chromium(
        tmp_path,
        _write(tmp_path, html_of(MULTI)),
        f"--screenshot={shot}",
        "--window-size=1366,900",
    )
    assert console == []
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (1366, 900)
