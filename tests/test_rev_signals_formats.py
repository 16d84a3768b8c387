"""SARIF and JUnit on hostile names: exports whose path or ref holds spaces, non-ASCII, bytes
that are not UTF-8, a colon, control characters and XML noncharacters."""

from __future__ import annotations

import gzip
import json
import os
import re
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from .builders import build_layout, tar_bytes
from .conftest import run_cli

jsonschema = pytest.importorskip("jsonschema")
SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())
# RFC 3986 characters a URI reference may hold: unreserved, reserved and "%".
URI_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*")
HOSTILE_REF = "ref<script>\x01]]>\uffff\ufffe"


def _export(root: Path, name: str | bytes, ref: str = "plain") -> str:
    """One image whose layer holds a setuid file (a notice) and ``../evil`` (a warning)."""
    setuid = tarfile.TarInfo("usr/bin/su")
    setuid.mode = 0o4755
    layer = gzip.compress(tar_bytes([setuid, ("../evil", b"x")]), mtime=0)
    path = root / os.fsdecode(name)  # a byte that is not UTF-8 stays a surrogate, as argv has it
    build_layout(path, [layer], ref=ref)
    return str(path)


def _sarif(path: str, cwd: Path | None = None) -> dict[str, Any]:
    run = run_cli("verify", "--format", "sarif", path, cwd=cwd)
    assert run.code == 0, run.err
    doc: dict[str, Any] = json.loads(run.out)
    jsonschema.Draft4Validator(SCHEMA).validate(doc)
    return doc


def _uris(doc: dict[str, Any]) -> set[str]:
    (run,) = doc["runs"]
    uris = {a["location"]["uri"] for a in run["artifacts"]}
    for result in run["results"]:
        for location in result["locations"]:
            uris.add(location["physicalLocation"]["artifactLocation"]["uri"])
    return uris


@pytest.mark.parametrize(
    ("name", "uri"),
    [
        ("h sp\u20ac ace", "h%20sp%E2%82%AC%20ace"),
        (b"b\xffad", "b%FFad"),  # not UTF-8: was an internal error (exit 3)
        ("a:b", "./a:b"),  # not the scheme "a"
        ("q?x#y%z", "q%3Fx%23y%25z"),
    ],
)
def test_sarif_uri_of_a_hostile_path(tmp_path: Path, name: str | bytes, uri: str) -> None:
    _export(tmp_path, name)
    relative = os.fsdecode(name)
    assert _uris(_sarif(relative, cwd=tmp_path)) == {uri}
    assert URI_CHARS.fullmatch(uri)


def test_sarif_meets_code_scanning_rules(tmp_path: Path) -> None:
    """GitHub: every ruleId a rule of the driver (ruleIndex pointing at it), each rule with
    short and full descriptions and help, each result with partialFingerprints."""
    doc = _sarif(_export(tmp_path, "x", HOSTILE_REF))
    (run,) = doc["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert len({r["id"] for r in rules}) == len(rules)
    for rule in rules:
        for field in ("shortDescription", "fullDescription", "help"):
            assert rule[field]["text"], (rule["id"], field)
    results = run["results"]
    assert sorted(r["ruleId"] for r in results) == ["setuid_setgid", "unsafe_path"]
    for r in results:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
        assert r["partialFingerprints"] == r["fingerprints"]
        assert re.fullmatch("[0-9a-f]{64}", r["partialFingerprints"]["ocianalyze/v1"])
        assert r["locations"][0]["logicalLocations"][0]["name"] == HOSTILE_REF


def test_junit_parses_with_xml_noncharacters_in_a_name(tmp_path: Path) -> None:
    """U+FFFE and U+FFFF are not XML 1.0 characters: a raw one made the report unparsable."""
    run = run_cli("verify", "--format", "junit", _export(tmp_path, "x", HOSTILE_REF))
    assert run.code == 0, run.err
    root = ET.fromstring(run.out.encode("utf-8"))
    (suite,) = root
    assert (suite.get("tests"), suite.get("failures")) == ("1", "1")
    (case,) = suite
    escaped = "ref<script>\\001]]>\\357\\277\\277\\357\\277\\276"
    assert case.get("name") == f"{escaped} [image, linux/amd64]"
    (failure,) = case.findall("failure")
    assert failure.get("type") == "unsafe_path"
    assert (failure.text or "").startswith(f"warning: unsafe_path: {escaped}: sha256:")
    out = case.findtext("system-out") or ""
    assert out.startswith(f"notice: setuid_setgid: {escaped}: sha256:")
    assert out.endswith("'usr/bin/su' (mode 4755)\n")
