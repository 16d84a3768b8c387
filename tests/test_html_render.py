"""`report --format html`: the page's tables carry the exact sizes (computed here from the
files with the standard library), its chart the bars the data implies, it fetches nothing,
and nothing an export names can become markup. The browser half is test_html_browser.py."""

from __future__ import annotations

import gzip
import io
import re
import subprocess
import sys
import tarfile
from collections import Counter, defaultdict
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from ocianalyze import Options, open_export, record, verify
from ocianalyze.analysis import Report, summarize
from ocianalyze.report import REPORT, ReportFormat
from ocianalyze.trust import Evidence, Outcome, SignatureFormat
from ocianalyze.trust.result import TrustResult
from ocianalyze.walker import ScanOptions

from .builders import build_layout, tar_bytes
from .conftest import SAMPLE_NAMES, SAMPLES, run_cli
from .independent import blob, decompress, layer_truth, oci_manifests

MULTI = SAMPLES / "multi-platform"
HOSTILE_REF = '<script>alert("ref")</script>\x1b[31m'
HOSTILE_FILE = "<script>alert('file')</script>.txt"


# --- reading a page (the same parser reads the browser's dumped DOM) ------------------------


class Page(HTMLParser):
    """Rows by class (each a list of its cells' ``data-bytes`` and its text), element counts by
    (tag, class token), and every text node."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: dict[str, list[tuple[list[int], str]]] = defaultdict(list)
        self.classes: Counter[tuple[str, str]] = Counter()
        self.tags: Counter[str] = Counter()
        self.attrs: list[tuple[str, str, str]] = []
        self.texts: list[str] = []
        self._row: tuple[str, list[int], list[str]] | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags[tag] += 1
        self.attrs += [(tag, k, v) for k, v in a.items()]
        for token in a.get("class", "").split():
            self.classes[(tag, token)] += 1
        if tag == "tr" and a.get("class"):
            self._row = (a["class"], [], [])
        if tag == "td" and self._row is not None and "data-bytes" in a:
            self._row[1].append(int(a["data-bytes"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr" and self._row is not None:
            self.rows[self._row[0]].append((self._row[1], " ".join(self._row[2])))
            self._row = None

    def handle_data(self, data: str) -> None:
        self.texts.append(data)
        if self._row is not None:
            self._row[2].append(data)

    def sizes(self, row_class: str) -> list[list[int]]:
        return [cells for cells, _ in self.rows[row_class]]


# --- the truth, from the files --------------------------------------------------------------


@dataclass(frozen=True)
class Truth:
    layers: list[list[tuple[int, int, int]]]  # per image: (stored, uncompressed, on disk)
    platforms: list[tuple[int, int, int, int, int]]  # stored, uncomp., disk, shared, unique
    sharing: list[tuple[int, int, int]]  # per distinct layer: stored, on disk, images using it
    largest: list[list[int]]  # per image: the sizes of its 10 largest files, merged


def truth(layout: Path) -> Truth:
    """What an OCI layout holds, computed with tarfile/gzip/hashlib alone."""
    per_image, plat, largest = [], {}, []
    users: Counter[str] = Counter()
    facts: dict[str, tuple[int, int]] = {}
    for _, manifest in oci_manifests(layout):
        config = json_blob(layout, manifest["config"]["digest"])
        layers = [layer_truth(blob(layout, d["digest"])) for d in manifest["layers"]]
        per_image.append([(t.size, t.uncompressed_size, t.disk_bytes) for t in layers])
        largest.append(_largest([blob(layout, d["digest"]) for d in manifest["layers"]]))
        key = "/".join(
            x for x in (config["os"], config["architecture"], config.get("variant")) if x
        )
        plat[key] = layers
        for t in {t.diff_id: t for t in layers}.values():
            users[t.diff_id] += 1
            facts[t.diff_id] = (t.size, t.disk_bytes)
    platforms = []
    for _, layers in sorted(plat.items()):
        disk = sum(t.disk_bytes for t in layers)
        shared = sum(t.disk_bytes for t in layers if users[t.diff_id] > 1)
        stored = sum(t.size for t in layers)
        platforms.append(
            (stored, sum(t.uncompressed_size for t in layers), disk, shared, disk - shared)
        )
    sharing = sorted(((*facts[d], n) for d, n in users.items()), key=lambda x: (-x[2], -x[1]))
    return Truth(per_image, platforms, sharing, largest)


def _largest(layers: list[bytes], top: int = 10) -> list[int]:
    """File sizes of the merged filesystem (a later layer's file replaces an earlier one's;
    the samples this is used on have no whiteouts), largest first."""
    files: dict[str, int] = {}
    for data in layers:
        with tarfile.open(fileobj=io.BytesIO(decompress(data))) as tf:
            files.update({m.name: m.size for m in tf if m.isreg()})
    return sorted(files.values(), reverse=True)[:top]


def expected_bars(want: Truth) -> int:
    """Bars in the footprint chart: one per platform for each part some platform has."""
    parts = [[p[3] for p in want.platforms], [p[4] for p in want.platforms]]
    return sum(len(part) for part in parts if any(part))


def json_blob(layout: Path, digest: str) -> Any:
    import json

    return json.loads(blob(layout, digest))


def report_of(path: Path) -> Report:
    scan = ScanOptions(collect_entries=True)
    export = open_export(str(path), scan_stream=True, opts=scan)
    return summarize(verify(export, Options(jobs=1, scan=scan)), top=10)


def html_of(path: Path) -> str:
    return REPORT[ReportFormat.HTML](report_of(path))


# --- tables and chart -----------------------------------------------------------------------


def test_layer_tables_hold_the_exact_sizes() -> None:
    page = Page(html_of(MULTI))
    want = truth(MULTI)
    rows = [row for image in want.layers for row in image]
    assert [tuple(cells) for cells in page.sizes("layer-row")] == rows
    for (cells, text), row in zip(page.rows["layer-row"], rows, strict=True):
        assert cells == list(row)
        assert all(f"{n:,} B" in text for n in row)
        assert "✓ verified" in text


@pytest.mark.parametrize(("sample", "bars"), [("multi-platform", 4), ("partial", 2)])
def test_footprint_table_and_chart_match_the_files(sample: str, bars: int) -> None:
    """One bar per platform for each part (shared, unique) that some platform has: the partial
    sample's two images share nothing, so it has no shared bars."""
    page = Page(html_of(SAMPLES / sample))
    want = truth(SAMPLES / sample)
    assert page.sizes("platform-row") == [list(p) for p in want.platforms]
    assert expected_bars(want) == bars
    assert page.classes[("g", "bar")] == bars


def test_sharing_table_names_who_uses_each_layer() -> None:
    page = Page(html_of(MULTI))
    want = truth(MULTI)
    got = [(*cells, text.count("multi · ")) for cells, text in page.rows["sharing-row"]]
    assert got == [tuple(x) for x in want.sharing]
    assert "2 images" in page.rows["sharing-row"][0][1]


def test_one_report_gives_the_same_bytes() -> None:
    """No clock and no random id in the page (pygal's are replaced): runs can be diffed."""
    runs = {run_cli("report", "--format", "html", str(MULTI)).out for _ in range(2)}
    assert len(runs) == 1


def test_the_page_fetches_nothing() -> None:
    html = html_of(MULTI)
    page = Page(html)
    assert not {"script", "link", "img", "iframe", "object", "embed"} & set(page.tags)
    assert not [(t, k, v) for t, k, v in page.attrs if k in ("src", "srcset", "action")]
    assert all(v.startswith("#") for _, k, v in page.attrs if k in ("href", "xlink:href"))
    assert "url(" not in html and "@import" not in html
    # The SVG namespace is a name, not a fetch; http-equiv is the policy's own attribute.
    assert set(re.findall(r"http[^\s\"'<>]*", html)) == {
        "http-equiv=",
        "http://www.w3.org/2000/svg",
    }
    csp = next(v for t, k, v in page.attrs if t == "meta" and k == "content" and "src" in v)
    assert "default-src 'none'" in csp and "script" not in csp


def test_every_sample_renders() -> None:
    for name in SAMPLE_NAMES:
        run = run_cli("report", "--format", "html", str(SAMPLES / name))
        assert run.code in (0, 1), (name, run.err)
        assert run.out.startswith("<!DOCTYPE html>") and run.out.endswith("</html>\n"), name


# --- hostile names --------------------------------------------------------------------------


def _hostile(tmp_path: Path) -> Path:
    layer = gzip.compress(tar_bytes([(HOSTILE_FILE, b"x" * 5000), ("a\nb\x07", b"y")]), mtime=0)
    build_layout(tmp_path / "l", [layer], ref=HOSTILE_REF)
    return tmp_path / "l"


def test_a_script_in_a_ref_or_file_name_is_inert(tmp_path: Path) -> None:
    run = run_cli("report", "--format", "html", str(_hostile(tmp_path)))
    assert run.code == 0, run.err
    html = run.out
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(&#34;ref&#34;)&lt;/script&gt;\\033[31m" in html
    assert "&lt;script&gt;alert(&#39;file&#39;)&lt;/script&gt;.txt" in html
    assert "a\\nb\\a" in html  # printable, as the text renderers show it
    assert "\x1b" not in html and "\x07" not in html
    page = Page(html)
    assert "script" not in page.tags
    assert any(HOSTILE_REF.replace("\x1b", "\\033") in t for t in page.texts)


# --- signatures -----------------------------------------------------------------------------


def test_signatures_are_shown_when_the_report_carries_them() -> None:
    base = report_of(MULTI)
    evidence = (
        Evidence(
            SignatureFormat.COSIGN, "sha256:" + "ab" * 32, Outcome.VERIFIED, "key ok", "a.sig"
        ),
        Evidence(
            SignatureFormat.SIMPLE_SIGNING,
            None,
            Outcome.INVALID,
            "<img src=x onerror=alert(1)>",
            "signature-1",
            signer="ABCD",
        ),
    )
    trust = TrustResult(evidence, tuple(() for _ in base.images), (), (), ("pinned: ok",))
    html = REPORT[ReportFormat.HTML](record.replace(base, trust=trust))
    page = Page(html)
    rows = page.rows["signature-row"]
    assert len(rows) == 2
    assert "verified" in rows[0][1] and "cosign" in rows[0][1] and "abababab" in rows[0][1]
    assert "invalid" in rows[1][1] and "ABCD" in rows[1][1]
    assert "img" not in page.tags and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "pinned: ok" in html
    assert 'id="signatures"' not in REPORT[ReportFormat.HTML](base)


# --- imported only for this format ----------------------------------------------------------


def _imported(*args: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ocianalyze", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = [x for x in proc.stderr.splitlines() if x.startswith("import time:")]
    return {x.rsplit("|", 1)[-1].strip().split(".")[0] for x in lines}


def test_jinja2_and_pygal_load_only_for_html() -> None:
    heavy = {"jinja2", "pygal", "markupsafe"}
    assert not heavy & _imported("--version")
    assert not heavy & _imported("report", str(MULTI))
    assert not heavy & _imported("report", "--format", "markdown", str(MULTI))
    assert heavy <= _imported("report", "--format", "html", str(MULTI))


def test_largest_files_are_the_merged_filesystem_s() -> None:
    page = Page(html_of(MULTI))
    assert page.sizes("largest-row") == [[n] for image in truth(MULTI).largest for n in image]


def test_without_the_extra_one_line_and_exit_2() -> None:
    """A missing library is not a bug: one line naming the extra, never a traceback."""
    code = (
        "import sys; sys.modules['pygal'] = None; "
        f"sys.argv = ['ocianalyze', 'report', '--format', 'html', {str(MULTI)!r}]; "
        "from ocianalyze_entry import main; main()"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "ocianalyze: report --format html: needs the html extra, "
        "pip install 'ocianalyze[html]' (import of pygal halted; None in sys.modules)"
    ]
