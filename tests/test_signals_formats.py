"""SARIF 2.1.0 validates against the OASIS schema; JUnit parses and counts right; footprint
names images by export when two exports name different images alike."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ocianalyze.errors import Kind

from .builders import build_layout
from .conftest import SAMPLES, run_cli

jsonschema = pytest.importorskip("jsonschema")
SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())
LEVEL = {"error": "error", "warning": "warning", "notice": "note"}


def _sarif(*args: str) -> tuple[int, dict[str, Any]]:
    run = run_cli(*args)
    doc = json.loads(run.out)
    jsonschema.Draft4Validator(SCHEMA).validate(doc)  # raises with the path of what is wrong
    return run.code, doc


def _shared_layer(layout: Path) -> str:
    """The digest of the first layer of the multi-platform sample (both images use it)."""
    blob = layout / "blobs" / "sha256"
    index = json.loads((layout / "index.json").read_text())
    nested = json.loads((blob / index["manifests"][0]["digest"][7:]).read_bytes())
    manifest = json.loads((blob / nested["manifests"][0]["digest"][7:]).read_bytes())
    return str(manifest["layers"][0]["digest"])


def _damage(layout: Path) -> str:
    digest = _shared_layer(layout)
    path = layout / "blobs" / "sha256" / digest[7:]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    return digest


def test_sarif_of_notices_validates_and_maps_levels() -> None:
    code, doc = _sarif("verify", "--format", "sarif", str(SAMPLES / "debootstrap"))
    assert code == 0 and doc["version"] == "2.1.0"
    (run,) = doc["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [k.value for k in Kind]
    results = run["results"]
    assert sorted(r["ruleId"] for r in results) == ["case_collision"] + ["setuid_setgid"] * 6
    for result in results:
        assert result["level"] == "note"
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        (location,) = result["locations"]
        assert location["physicalLocation"]["artifactLocation"]["uri"] == str(
            SAMPLES / "debootstrap"
        )
        image, blob = location["logicalLocations"]
        assert (image["name"], image["kind"], blob["kind"]) == ("bookworm", "image", "blob")
        assert blob["name"].startswith("sha256:") and len(blob["name"]) == 71


def test_sarif_of_a_damaged_export_validates(sample_copy: Callable[[str], Path]) -> None:
    layout = sample_copy("multi-platform")
    digest = _damage(layout)
    for command in ("verify", "report"):
        code, doc = _sarif(command, "--format", "sarif", str(layout))
        assert code == 1
        results = doc["runs"][0]["results"]
        hits = [r for r in results if r["ruleId"] == "digest_mismatch"]
        assert hits and all(r["level"] == "error" for r in hits)
        names = {r["locations"][0]["logicalLocations"][1]["name"] for r in hits}
        assert names == {digest}


def test_sarif_levels_follow_the_severities() -> None:
    _, doc = _sarif("report", "--format", "sarif", str(SAMPLES / "partial"))
    (result,) = doc["runs"][0]["results"]
    assert (result["ruleId"], result["level"]) == ("platform_absent", "warning")
    rules = {
        r["id"]: r["defaultConfiguration"]["level"]
        for r in doc["runs"][0]["tool"]["driver"]["rules"]
    }
    expected = json.loads(run_cli("verify", "--format", "json", str(SAMPLES / "partial")).out)
    assert expected["problems"][0]["severity"] == "warning"
    assert rules["setuid_setgid"] == "note" and rules["digest_mismatch"] == "error"


def _junit(*args: str) -> tuple[int, ET.Element]:
    run = run_cli(*args)
    assert run.out.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    return run.code, ET.fromstring(run.out.encode())


def _counts(el: ET.Element) -> tuple[str, str, str]:
    return el.get("tests", ""), el.get("failures", ""), el.get("errors", "")


def test_junit_notices_are_output_not_failures() -> None:
    code, root = _junit("verify", "--format", "junit", str(SAMPLES / "debootstrap"))
    assert code == 0 and root.tag == "testsuites"
    (suite,) = root
    assert _counts(root) == _counts(suite) == ("1", "0", "0")
    (case,) = suite.iter("testcase")
    assert case.get("name") == "bookworm [image, linux/amd64]"
    assert case.find("failure") is None
    out = case.findtext("system-out") or ""
    assert len(out.splitlines()) == 7 and all(x.startswith("notice: ") for x in out.splitlines())


def test_junit_one_case_per_image_a_failure_per_problem(
    sample_copy: Callable[[str], Path],
) -> None:
    layout = sample_copy("multi-platform")
    digest = _damage(layout)
    code, root = _junit("report", "--format", "junit", str(layout))
    problems = run_cli("verify", "--format", "json", str(layout)).json()["problems"]
    on_layer = [p for p in problems if p["digest"] == digest]
    assert code == 1 and on_layer and {p["severity"] for p in on_layer} == {"error"}
    (suite,) = root
    cases = list(suite.iter("testcase"))
    assert [c.get("name") for c in cases] == [
        "multi [image, linux/amd64]",
        "multi [image, linux/arm64/v8]",
    ]
    assert _counts(root) == ("2", "2", "0")
    for case in cases:  # the broken layer is both images'
        failures = case.findall("failure")
        assert [f.get("type") for f in failures] == [p["kind"] for p in on_layer]
        assert all(digest in (f.text or "") for f in failures)


def test_junit_problems_on_no_image_get_an_export_case() -> None:
    code, root = _junit("verify", "--format", "junit", str(SAMPLES / "partial"))
    assert code == 0
    (suite,) = root
    assert _counts(suite) == ("3", "1", "0")
    cases = list(suite.iter("testcase"))
    assert cases[-1].get("name") == "export"
    (failure,) = cases[-1].findall("failure")
    assert failure.get("type") == "platform_absent"


def _layer(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return gzip.compress(buf.getvalue(), mtime=0)


def test_footprint_qualifies_a_name_two_exports_give_different_images(tmp_path: Path) -> None:
    build_layout(tmp_path / "a", [_layer("x", b"1" * 100)], ref="latest")
    build_layout(tmp_path / "b", [_layer("y", b"2" * 5000)], ref="latest")
    build_layout(tmp_path / "c", [_layer("x", b"1" * 100)], ref="latest")  # the image of a
    doc = run_cli("footprint", "--format", "json", "a", "b", cwd=tmp_path).json()
    assert [p["images"] for p in doc["platforms"]] == [["a:latest", "b:latest"]]
    text = run_cli("footprint", "a", "b", cwd=tmp_path).out
    assert "  linux/amd64            a:latest, b:latest\n" in text
    same = run_cli("footprint", "--format", "json", "a", "c", cwd=tmp_path).json()
    assert [p["images"] for p in same["platforms"]] == [["latest"]]
    one = hashlib.sha256((tmp_path / "a" / "index.json").read_bytes()).hexdigest()
    assert one == hashlib.sha256((tmp_path / "c" / "index.json").read_bytes()).hexdigest()
