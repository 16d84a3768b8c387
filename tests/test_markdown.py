"""The repo-info markdown page: a golden file, and its figures checked against values computed
straight from the sample files with json/hashlib/gzip/tarfile (never with ocianalyze).

Regenerate the golden after a deliberate change with ``OCIANALYZE_REGEN_GOLDEN=1 pytest
tests/test_markdown.py``, then read the diff line by line.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import tarfile
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from ocianalyze import Options, open_export, verify
from ocianalyze.analysis import summarize
from ocianalyze.model import History, Platform
from ocianalyze.report.markdown import (
    _code,
    _fence,
    dockerfile,
    dockerfile_line,
    http_date,
    platform_text,
    render,
    repository,
)
from ocianalyze.report.units import human, human_exact
from ocianalyze.walker import ScanOptions

from .conftest import SAMPLES

GOLDEN = Path(__file__).resolve().parent / "golden"


def _page(sample: str, top: int = 10) -> str:
    scan = ScanOptions(collect_entries=True)  # as `report` reads: the waste lines need entries
    export = open_export(str(SAMPLES / sample), scan_stream=True, opts=scan)
    return render(summarize(verify(export, Options(jobs=1, scan=scan)), top=top))


def _blob(layout: Path, digest: str) -> bytes:
    return (layout / "blobs" / digest.replace(":", "/")).read_bytes()


def _json(layout: Path, digest: str) -> Any:
    return json.loads(_blob(layout, digest))


def _sections(page: str) -> dict[str, str]:
    """Each `### ... - <platform>` section by its platform text."""
    parts = page.split("\n### ")[1:]
    return {p.split("\n", 1)[0].split(" - ", 1)[1]: p for p in parts}


def _bullets(section: str, title: str) -> list[str]:
    """The nested bullets under `-\t<title>:`, up to the next top-level line."""
    lines = section.split("\n")
    start = lines.index(f"-\t{title}:") + 1
    out = []
    for line in lines[start:]:
        if not line.startswith("\t-\t"):
            break
        out.append(line[3:])
    return out


# --- (1) the multi-platform golden ---------------------------------------------------------


def test_multi_platform_matches_golden() -> None:
    page = _page("multi-platform")
    golden = GOLDEN / "multi-platform.md"
    if os.environ.get("OCIANALYZE_REGEN_GOLDEN"):
        golden.write_text(page, encoding="utf-8", newline="")
    assert page == golden.read_text(encoding="utf-8")


def _layer_truth(blob: bytes) -> tuple[int, int, str]:
    """Uncompressed size, on-disk estimate, and the newest mtime as an HTTP date."""
    raw = gzip.decompress(blob)
    disk, newest = 0, 0
    with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
        for m in tf:
            newest = max(newest, m.mtime)
            if m.isreg() and not m.name.rsplit("/", 1)[-1].startswith(".wh."):
                disk += -(-m.size // 4096) * 4096
            elif m.isdir():
                disk += 4096
    when = format_datetime(datetime.fromtimestamp(newest, timezone.utc), usegmt=True)
    return len(raw), disk, when


def test_multi_platform_figures_are_the_files() -> None:
    layout = SAMPLES / "multi-platform"
    page = _page("multi-platform")  # the renderer, not the golden file, is under test
    top = json.loads((layout / "index.json").read_text())["manifests"][0]
    index_digest = "sha256:" + hashlib.sha256(_blob(layout, top["digest"])).hexdigest()
    assert f"$ docker pull <repository>@{index_digest}\n" in page.split("\n### ")[0]
    sections = _sections(page)
    assert list(sections) == ["linux; amd64", "linux; arm64 variant v8"]
    for desc in _json(layout, top["digest"])["manifests"]:
        p = desc["platform"]
        section = sections[
            f"{p['os']}; {p['architecture']} variant {p['variant']}"
            if p.get("variant")
            else f"{p['os']}; {p['architecture']}"
        ]
        _check_platform(layout, desc["digest"], section)


def _check_platform(layout: Path, manifest_digest: str, section: str) -> None:
    manifest = _json(layout, manifest_digest)
    assert f"$ docker pull <repository>@{manifest_digest}\n" in section
    total = sum(layer["size"] for layer in manifest["layers"])
    assert f"-\tTotal Size: **{human_exact(total)}**  \n" in section
    assert f"({total} bytes)" in section.split("Total Size: ")[1].split("\n", maxsplit=1)[0]
    config = _blob(layout, manifest["config"]["digest"])
    assert f"-\tImage ID: `sha256:{hashlib.sha256(config).hexdigest()}`\n" in section
    cmd = json.loads(config)["config"]["Cmd"]
    assert f"-\tDefault Command: `{json.dumps(cmd, separators=(',', ':'))}`\n" in section
    layers_text = section.split("-\tLayers:\n", 1)[1]
    sizes = [0, 0]
    for layer in manifest["layers"]:
        blob = _blob(layout, layer["digest"])
        assert "sha256:" + hashlib.sha256(blob).hexdigest() == layer["digest"]
        uncompressed, disk, when = _layer_truth(blob)
        sizes = [sizes[0] + uncompressed, sizes[1] + disk]
        expected = (
            f"\t-\t`{layer['digest']}`  \n"
            f"\t\tLast Modified: {when} (newest file in the layer)  \n"
            f"\t\tSize: {human(len(blob))} ({len(blob)} bytes)  \n"
            f"\t\tUncompressed: {human(uncompressed)} ({uncompressed} bytes)  \n"
            f"\t\tOn disk: {human(disk)} ({disk} bytes)  \n"
            f"\t\tMIME: {layer['mediaType']}\n"
        )
        assert expected in layers_text + "\n"
    assert f"-\tUncompressed Size: **{human_exact(sizes[0])}**  \n" in section
    assert f"-\tOn-disk Size: **{human_exact(sizes[1])}**  \n" in section


def test_multi_platform_dockerfile_is_the_history() -> None:
    layout = SAMPLES / "multi-platform"
    for digest, section in zip(
        [d["digest"] for d in _json(layout, _top_index(layout))["manifests"]],
        _sections(_page("multi-platform")).values(),
        strict=True,
    ):
        config = _json(layout, _json(layout, digest)["config"]["digest"])
        block = section.split("```dockerfile\n", 1)[1].split("\n```\n", 1)[0].split("\n")
        assert len(block) == 2 * len(config["history"])
        pairs = list(zip(block[::2], block[1::2], strict=True))
        for (date, line), entry in zip(pairs, config["history"], strict=True):
            assert date == "# Mon, 15 Jan 2024 10:00:00 GMT" == "# " + http_date(entry["created"])
            assert "/bin/sh" not in line and "#(nop)" not in line
            assert line in entry["created_by"] or line.removeprefix("RUN ") in entry["created_by"]


def _top_index(layout: Path) -> str:
    return json.loads((layout / "index.json").read_text())["manifests"][0]["digest"]


def test_page_whitespace_is_repo_info_s() -> None:
    page = _page("multi-platform")  # the renderer, not the golden file, is under test
    assert page.endswith("MIME: application/vnd.oci.image.layer.v1.tar+gzip\n")
    assert "\n\n\n" not in page
    for line in page.split("\n"):
        assert not line.startswith(("- ", "  ")), line  # bullets are "-\t", indents tabs
        if line.endswith(" "):  # markdown line breaks, and the ADD line kept verbatim
            assert line.endswith("  ") or line.startswith("ADD "), line


# --- (2) legacy docker save ----------------------------------------------------------------


def test_legacy_page_says_what_the_export_cannot_give() -> None:
    page = _page("docker-legacy.tar")
    assert "docker pull" not in page
    section = _sections(page)["linux; amd64"]
    assert "-\tTotal Size: unknown (the export holds only uncompressed layers)\n" in section
    assert "-\tManifest: none (legacy `docker save` keeps no manifest;" in section
    with tarfile.open(SAMPLES / "docker-legacy.tar") as tf:
        manifest = json.load(tf.extractfile("manifest.json"))[0]  # type: ignore[arg-type]
        config = json.load(tf.extractfile(manifest["Config"]))  # type: ignore[arg-type]
    for diff_id in config["rootfs"]["diff_ids"]:
        assert f"\t-\t`{diff_id}` (recomputed by the exporting tool:" in section
    assert "-\tDocker Version: 24.0.7\n" in section


def test_docker_25_uncompressed_layers_are_marked() -> None:
    page = _page("docker-25.tar")
    assert "$ docker pull example/modern@sha256:" in page
    assert "$ docker pull <repository>@sha256:" in page  # the bare "2.0" ref.name
    assert page.count("(recomputed by the exporting tool:") == 2 * 3  # 2 layers, 3 names


# --- (3) attestations ----------------------------------------------------------------------


def test_attestations_are_not_platforms() -> None:
    layout = SAMPLES / "attestations"
    index = _json(layout, _top_index(layout))
    real = [
        f"{d['platform']['os']}; {d['platform']['architecture']}"
        for d in index["manifests"]
        if "vnd.docker.reference.type" not in d.get("annotations", {})
    ]
    assert real == ["linux; amd64", "linux; arm64"]
    page = _page("attestations")
    tag = page.split("\n### ")[0]
    assert _bullets(tag, "Platforms") == real
    assert _bullets(tag, "Attestations") == [f"unknown; unknown, attesting {p}" for p in real]
    assert list(_sections(page)) == real
    others = page.split("\n## ")[1:]
    assert [s.split("\n")[0] for s in others] == [
        f"`sha256-{_top_index(layout).split(':')[1]}.sig`",
        "`sbom`",
    ]
    assert "\t-\tsignature `sha256:" in others[0]
    assert "\t-\tartifact `sha256:" in others[1] and "type `application/spdx+json`" in others[1]


def test_partial_lists_the_absent_platform() -> None:
    tag = _page("partial").split("\n### ")[0]
    assert _bullets(tag, "Platforms") == [
        "linux; amd64",
        "linux; arm64 variant v8",
        "linux; s390x (manifest not in the export)",
    ]


def test_foreign_layer_is_not_read_and_totals_say_so() -> None:
    section = _sections(_page("windows-foreign"))["windows version 10.0.17763.5329; amd64"]
    assert "\t\tLast Modified: unknown (layer not read)  \n" in section
    assert re.search(r"Uncompressed Size: at least \*\*.*\*\* \(1 of 2 layers not read\)", section)


# --- (4) history -> dockerfile -------------------------------------------------------------


def test_history_to_dockerfile() -> None:
    history = [
        History("2019-06-19T21:19:43.5Z", "/bin/sh -c #(nop) ADD file:fef3 in / ", False),
        History("2019-06-19T21:19:43Z", '/bin/sh -c #(nop)  CMD ["/bin/sh"]', True),
        History("2019-06-27T23:46:32+01:00", "/bin/sh -c apk add ca-certificates", False),
        History("2019-06-27T22:51:10.123456789Z", "/bin/sh -c set -ex \t&& make", False),
        History("2024-01-15T10:00:00Z", "RUN /bin/sh -c make # buildkit", False),
        History("2024-01-15T10:00:00Z", "ENV LANG=C.UTF-8", True),
        History(None, "cmd /S /C #(nop)  SHELL [cmd /s /c]", True),
        History("yesterday", "COPY a\x1b[2J b", False),
        History(None, "RUN <<EOF\necho \u202ex\nEOF", False),  # a heredoc: one line, escaped
    ]
    assert dockerfile(history) == [
        "# Wed, 19 Jun 2019 21:19:43 GMT",
        "ADD file:fef3 in / ",
        "# Wed, 19 Jun 2019 21:19:43 GMT",
        'CMD ["/bin/sh"]',
        "# Thu, 27 Jun 2019 22:46:32 GMT",
        "RUN apk add ca-certificates",
        "# Thu, 27 Jun 2019 22:51:10 GMT",
        "RUN set -ex \t&& make",
        "# Mon, 15 Jan 2024 10:00:00 GMT",
        "RUN make # buildkit",
        "# Mon, 15 Jan 2024 10:00:00 GMT",
        "ENV LANG=C.UTF-8",
        "SHELL [cmd /s /c]",
        "# yesterday",
        "COPY a\\033[2J b",
        "RUN <<EOF\\necho \\342\\200\\256x\\nEOF",
    ]


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2019-06-19T21:19:43Z", "Wed, 19 Jun 2019 21:19:43 GMT"),
        ("2019-06-19t21:19:43.999999999z", "Wed, 19 Jun 2019 21:19:43 GMT"),
        ("2019-06-20T01:19:43+04:00", "Wed, 19 Jun 2019 21:19:43 GMT"),
        ("2016-12-31T23:59:60Z", "Sat, 31 Dec 2016 23:59:59 GMT"),
        ("2019-02-30T00:00:00Z", None),
        ("0001-01-01T00:00:00+01:00", None),
        ("2019-06-19T21:19:43", None),
        ("", None),
    ],
)
def test_http_date(stamp: str, expected: str | None) -> None:
    assert http_date(stamp) == expected


def test_dockerfile_line_leaves_other_forms_alone() -> None:
    assert dockerfile_line("COPY /rootfs/ / # buildkit") == "COPY /rootfs/ / # buildkit"
    assert dockerfile_line("/bin/sh -c #(nop) WORKDIR /app") == "WORKDIR /app"


# --- names and escaping --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("python:3.8.0b1-alpine", "python"),
        ("docker.io/library/python:3.8", "docker.io/library/python"),
        ("localhost:5000/app:1", "localhost:5000/app"),
        ("localhost:5000/app", "<repository>"),
        ("1.0", "<repository>"),
        ("latest", "<repository>"),
        ("sha256:" + "ab" * 32, "<repository>"),
        ("app:bad tag", "<repository>"),
    ],
)
def test_repository(ref: str, expected: str) -> None:
    assert repository(ref) == expected


def test_platform_text() -> None:
    assert platform_text(Platform("linux", "amd64")) == "linux; amd64"
    assert platform_text(Platform("linux", "arm64", "v8")) == "linux; arm64 variant v8"
    windows = Platform("windows", "amd64", os_version="10.0.17763.5329")
    assert platform_text(windows) == "windows version 10.0.17763.5329; amd64"
    assert platform_text(None) == "unknown; unknown"


def test_untrusted_text_cannot_break_out() -> None:
    assert _code("a`b") == "``a`b``"
    assert _code("`x`") == "`` `x` ``"
    assert _code("line\nbreak") == "`line\\nbreak`"
    assert _fence("dockerfile", ["RUN echo", "```", "x"])[0] == "````dockerfile"


# --- (5) units -----------------------------------------------------------------------------


def test_units_as_repo_info_writes_them() -> None:
    assert human_exact(230) == "230.0 B"
    assert human_exact(33937880) == "33.9 MB (33937880 bytes)"
    assert human(301713) == "301.7 KB"
    assert human_exact(999) == "999.0 B"
    assert human_exact(1000) == "1.0 KB (1000 bytes)"


def test_units_never_print_a_thousand_of_a_unit() -> None:
    assert human(999_949) == "999.9 KB"
    assert human(999_950) == "1.0 MB"
    assert human(999_950_000) == "1.0 GB"


def test_report_markdown_from_the_command_line() -> None:
    from .conftest import SAMPLES, run_cli

    run = run_cli("report", "--format", "markdown", str(SAMPLES / "multi-platform"))
    assert run.code == 0, run.err
    golden = Path(__file__).parent / "golden" / "multi-platform.md"
    assert run.out == golden.read_text()


def test_waste_lines_name_the_hidden_files() -> None:
    page = _page("oci-layout")
    assert "-\tWasted Space: **24.7 KB (24680 bytes)** in files hidden by later layers" in page
    assert "\t-\t`etc/motd`: 517.0 B, deleted in layer 3" in page
    assert "\t-\t`etc/os-release`: 56.0 B, overwritten in layer 2" in page
