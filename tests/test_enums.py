"""Every member of each closed set is covered: documented, produced, or rendered."""

from __future__ import annotations

from pathlib import Path

from ocianalyze.cli import ReportFormat
from ocianalyze.errors import SEVERITY, Kind
from ocianalyze.mediatypes import Compression
from ocianalyze.sources import ExportFormat

from .conftest import SAMPLE_NAMES, SAMPLES, run_cli

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_problem_kind_is_documented_with_its_severity() -> None:
    for kind in Kind:
        row = next(
            (line for line in README.splitlines() if line.startswith(f"| `{kind.value}` |")), None
        )
        assert row is not None, f"{kind.value} missing from the README's problem table"
        severity = SEVERITY[kind].value
        assert f"| {severity} |" in row, row


def test_every_export_format_and_compression_is_met_in_the_samples() -> None:
    formats, compressions = set(), set()
    for name in SAMPLE_NAMES:
        doc = run_cli("report", "--format", "json", str(SAMPLES / name)).json()
        formats.add(doc["source"]["format"])
        compressions |= {
            layer["compression"]
            for image in doc["images"]
            for layer in image["layers"]
            if layer["compression"]
        }
    assert formats == {f.value for f in ExportFormat}
    assert compressions == {c.value for c in Compression}


def test_every_report_format_renders() -> None:
    for fmt in ReportFormat:
        run = run_cli("report", "--format", fmt.value, str(SAMPLES / "oci-layout"))
        assert run.code == 0 and run.out.strip(), fmt
