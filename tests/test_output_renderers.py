"""Renderers are pure functions of one Report: the layering, the format tables, --top in every
format, and exact text for small models built here by hand."""

from __future__ import annotations

import ast
import json
import math
import re
from pathlib import Path

import pytest

from ocianalyze.analysis import ImageAnalysis, LayerFacts, Report, Totals, describe
from ocianalyze.digest import Digest
from ocianalyze.errors import Kind, Problem
from ocianalyze.mediatypes import Compression
from ocianalyze.model import (
    Descriptor,
    ExportModel,
    Image,
    ImageConfig,
    ManifestKind,
    Platform,
)
from ocianalyze.report import INSPECT, REPORT, VERIFY, Format, ReportFormat, VerifyFormat
from ocianalyze.report.markdown import NO_MANIFEST
from ocianalyze.report.markdown import render as markdown
from ocianalyze.tarwalk import TarStats
from ocianalyze.walker import BlobScan

from .builders import build_layout, tar_bytes
from .conftest import run_cli

PACKAGE = Path(__file__).resolve().parent.parent / "ocianalyze"


# --- the layering: report/ never reaches the readers or the verifier ------------------------


def _imports(path: Path) -> set[str]:
    """Modules of the package that ``path`` imports at run time (TYPE_CHECKING blocks aside)."""
    tree = ast.parse(path.read_text())
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
                continue
            for child in ast.walk(node):
                if isinstance(child, ast.ImportFrom):
                    base = package.split(".")
                    base = base[: len(base) - child.level + 1] if child.level else []
                    name = ".".join([*base, *(child.module or "").split(".")]).strip(".")
                    found.add(name)
                    found.update(f"{name}.{a.name}" for a in child.names)
                elif isinstance(child, ast.Import):
                    found.update(a.name for a in child.names)

    visit(tree.body)
    return {m for m in found if m.split(".")[0] == "ocianalyze"}


def _file(module: str) -> Path | None:
    rel = Path(*module.split("."))
    for candidate in (
        PACKAGE.parent / rel.with_suffix(".py"),
        PACKAGE.parent / rel / "__init__.py",
    ):
        if candidate.is_file():
            return candidate
    return None


def _reached(start: str) -> set[str]:
    """Every module of the package ``start`` imports, transitively. The package's own
    ``__init__`` is left out: it re-exports the public API for library users."""
    seen, todo = set(), [start]
    while todo:
        module = todo.pop()
        path = _file(module)
        if module in seen or path is None or module == "ocianalyze":
            continue
        seen.add(module)
        todo += sorted(_imports(path))
    return seen


@pytest.mark.parametrize(
    "module",
    sorted(f"ocianalyze.report.{p.stem}" for p in (PACKAGE / "report").glob("*.py")),
)
def test_renderers_import_neither_readers_nor_verifier(module: str) -> None:
    reached = _reached(module)
    assert module in reached
    assert not {m for m in reached if m.startswith(("ocianalyze.sources", "ocianalyze.verify"))}


def test_the_import_walk_sees_a_forbidden_import() -> None:
    assert "ocianalyze.verify" in _reached("ocianalyze.cli")  # the check can fail


# --- one table per command: every format has a renderer -------------------------------------

DIGEST = Digest.parse("sha256:" + "1" * 64)
CONFIG = Digest.parse("sha256:" + "2" * 64)
LAYER = Digest.parse("sha256:" + "3" * 64)
DIFF = Digest.parse("sha256:" + "4" * 64)


def _image(manifest: bool = True) -> Image:
    layer = Descriptor("application/vnd.oci.image.layer.v1.tar+gzip", LAYER, 1500)
    config = ImageConfig("arm64", "linux", "v8", "2024-01-15T10:00:00Z", (DIFF,))
    md = Descriptor("application/vnd.oci.image.manifest.v1+json", DIGEST, 400) if manifest else None
    return Image(
        refs=("app:1",),
        kind=ManifestKind.IMAGE,
        manifest_descriptor=md,
        manifest=None,
        index_digest=None,
        config_descriptor=Descriptor("application/vnd.oci.image.config.v1+json", CONFIG, 300),
        config=config,
        layers=(layer,),
        platform=Platform("linux", "arm64", "v8"),
    )


def _report(manifest: bool = True, mtime: float | None = 1705312800.0) -> Report:
    image = _image(manifest)
    tar = TarStats(entries=3, files=2, dirs=1, file_bytes=5000, disk_bytes=12288)
    tar.newest_mtime = mtime
    scan = BlobScan(LAYER, 1500, Compression.GZIP, DIFF, 10240, tar)
    facts = LayerFacts(image.layers[0], DIFF, scan, True)
    analysis = ImageAnalysis(image, [facts], Totals(1500, 10240, 5000, 12288), None)
    problem = Problem(Kind.HISTORY_MISMATCH, str(CONFIG), "app:1", "2 entries for 1 layer")
    return Report(
        path="exp.tar",
        format="oci-archive",
        model=ExportModel(images=(image,)),
        problems=(problem,),
        images=(analysis,),
        verified=True,
        ok=True,
        blobs_read=2,
    )


def test_every_format_of_every_command_has_a_renderer() -> None:
    assert set(INSPECT) == set(Format)
    assert set(VERIFY) == set(VerifyFormat)
    assert set(REPORT) == set(ReportFormat)
    for render in [*INSPECT.values(), *VERIFY.values(), *REPORT.values()]:
        out = render(_report())
        assert "app:1" in out or "linux" in out or "exp.tar: OK" in out


# --- exact text, computed by hand ----------------------------------------------------------


def test_verify_text_is_the_problems_then_the_verdict() -> None:
    assert VERIFY[VerifyFormat.TEXT](_report()) == (
        "notices: history_mismatch \u00d71 (see report)\n"
        "exp.tar: OK: 2 blobs verified; 0 errors, 0 warnings, 1 notice\n"
    )


def test_inspect_text_exact() -> None:
    assert INSPECT[Format.TEXT](_report()) == (
        "exp.tar: oci-archive, 1 image(s)\n"
        "\n"
        "app:1  [image, linux/arm64/v8]\n"
        f"  manifest  sha256:{'1' * 64}\n"
        "  mime      application/vnd.oci.image.manifest.v1+json\n"
        f"  image ID  sha256:{'2' * 64}\n"
        "  created   2024-01-15T10:00:00Z\n"
        "  layers    1, 1.5 KB (1500 bytes) stored\n"
    )


def test_json_is_strict_and_a_nan_mtime_is_null() -> None:
    for mtime in (math.nan, math.inf):
        text = REPORT[ReportFormat.JSON](_report(mtime=mtime))
        doc = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
        assert doc["images"][0]["layers"][0]["newest_mtime"] is None
    doc = json.loads(REPORT[ReportFormat.JSON](_report()))
    assert doc["images"][0]["layers"][0]["newest_mtime"] == 1705312800.0
    assert doc["ok"] is True and doc["source"] == {"path": "exp.tar", "format": "oci-archive"}


def test_markdown_learns_of_a_legacy_save_from_the_model_alone() -> None:
    # The format string says OCI; the model says "no manifest": the model decides.
    with_manifest, without = markdown(_report()), markdown(_report(manifest=False))
    assert NO_MANIFEST not in with_manifest
    assert "-\tTotal Size: **1.5 KB (1500 bytes)**  \n" in with_manifest
    assert NO_MANIFEST in without
    assert "-\tTotal Size: unknown (the export holds only uncompressed layers)\n" in without


def test_inspect_json_has_no_measurements() -> None:
    report = describe("exp.tar", "oci-layout", ExportModel(images=(_image(),)))
    doc = json.loads(INSPECT[Format.JSON](report))
    assert "ok" not in doc and "totals" not in doc["images"][0]
    assert doc["images"][0]["layers"] == [
        {
            "digest": str(LAYER),
            "media_type": "application/vnd.oci.image.layer.v1.tar+gzip",
            "size": 1500,
        }
    ]


# --- --top reaches every format ------------------------------------------------------------

SIZES = [100, 700, 300, 600, 200, 500]  # file f<i> holds SIZES[i] bytes in layer 1


def _overwritten(tmp_path: Path) -> Path:
    """Layer 1 ships six files; layer 2 overwrites each with one byte: six wasted copies."""
    first = tar_bytes([(f"f{i}", b"x" * n) for i, n in enumerate(SIZES)])
    second = tar_bytes([(f"f{i}", b"y") for i in range(len(SIZES))])
    build_layout(
        tmp_path / "l", [first, second], media_type="application/vnd.oci.image.layer.v1.tar"
    )
    return tmp_path / "l"


@pytest.mark.parametrize("top", [0, 2, 4])
def test_top_bounds_the_waste_in_every_format(top: int, tmp_path: Path) -> None:
    layout = _overwritten(tmp_path)
    expected = [f"f{i}" for i in sorted(range(len(SIZES)), key=lambda i: -SIZES[i])][:top]
    args = ["report", "--top", str(top), str(layout), "--format"]
    doc = run_cli(*args, "json").json()
    assert [w["path"] for w in doc["images"][0]["waste"]["largest_wasters"]] == expected
    assert doc["images"][0]["waste"]["wasted_bytes"] == sum(SIZES)
    page = run_cli(*args, "markdown").out
    assert re.findall(r"^\t-\t`(f\d)`: .*, overwritten in layer 2$", page, re.M) == expected
    text = run_cli(*args, "text").out
    assert (
        re.findall(r"overwritten in layer 2, 1 copy from layer 1: (f\d)$", text, re.M) == expected
    )
