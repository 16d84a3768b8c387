"""Output cannot be forged: every string an export gives is escaped before text output, and JSON
keeps it exact.

The escapes are those of GNU ``ls --quoting-style=escape``, written out by hand below. The
forgery test poisons every string field of a real report model (a generic walk over the
records, so a field added later is poisoned too) and checks each renderer: no control
character on any line, and as many lines as the same model with harmless strings gives.
"""

from __future__ import annotations

import enum
import json
import re
from pathlib import Path
from typing import Any

import pytest

from ocianalyze import Options, open_export, record, verify
from ocianalyze.analysis import Report, summarize
from ocianalyze.digest import Digest
from ocianalyze.errors import InvalidDigest, Kind, Problem
from ocianalyze.footprint import Footprint, footprint
from ocianalyze.report import INSPECT, REPORT, VERIFY, Format, ReportFormat
from ocianalyze.report.escape import printable
from ocianalyze.report.footprint import footprint_json, footprint_text
from ocianalyze.walker import ScanOptions

from .builders import put, tar_bytes
from .conftest import SAMPLES, run_cli

# C0 but tab, DEL, C1, the Unicode line separators, bidi overrides and isolates.
UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
POISON = "\n\x1b[31mFORGED\x07\r\u202e\x85\t\u2066\\"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain name:1.0", "plain name:1.0"),
        ("a\nb", "a\\nb"),
        ("\a\b\t\v\f\r", "\\a\\b\\t\\v\\f\\r"),
        ("\x1b[2J", "\\033[2J"),
        ("\x00\x7f", "\\000\\177"),
        ("back\\slash", "back\\\\slash"),
        ("\x85", "\\302\\205"),  # C1 NEL, as its UTF-8 bytes in octal
        ("\u202eevil", "\\342\\200\\256evil"),  # RIGHT-TO-LEFT OVERRIDE
        ("\u2066x\u2069", "\\342\\201\\246x\\342\\201\\251"),  # isolates
        ("\u2028", "\\342\\200\\250"),
        ("caf\udce9", "caf\\351"),  # a byte that was not UTF-8, kept by surrogateescape
        ("café ☃", "café ☃"),  # printable Unicode stays as it is
    ],
)
def test_printable_escapes_as_ls_does(raw: str, shown: str) -> None:
    assert printable(raw) == shown


@pytest.mark.parametrize("bad", ["sha256:ab\ncd", "sha256\x1b:ab", "sha256:" + "a" * 63 + "\n"])
def test_digests_cannot_carry_control_characters(bad: str) -> None:
    with pytest.raises(InvalidDigest):
        Digest.parse(bad)


# --- every string field of a real model, poisoned ------------------------------------------


def _rewrite(obj: Any, change: Any, seen: dict[int, Any]) -> Any:
    """``obj`` with ``change`` applied to every str inside (records, tuples, lists, dicts).

    The same object always maps to the same new object: renderers match images by identity."""
    if id(obj) in seen:
        return seen[id(obj)]
    out: Any = obj
    if isinstance(obj, enum.Enum | Digest):  # a Digest's grammar admits no control character
        pass
    elif isinstance(obj, str):
        out = change(obj)
    elif record.is_record(obj) and not isinstance(obj, type):
        values = {n: _rewrite(getattr(obj, n), change, seen) for n in record.fields(obj)}
        out = record.replace(obj, **values)
    elif isinstance(obj, tuple | list):
        out = type(obj)(_rewrite(x, change, seen) for x in obj)
    elif isinstance(obj, dict):
        out = {_rewrite(k, change, seen): _rewrite(v, change, seen) for k, v in obj.items()}
    seen[id(obj)] = out
    return out


def _poisoned(obj: Any) -> Any:
    return _rewrite(obj, lambda s: s + POISON, {})


def _harmless(obj: Any) -> Any:
    return _rewrite(obj, lambda s: s + "x" * len(POISON), {})


def _report(sample: str) -> Report:
    scan = ScanOptions(collect_entries=True)
    export = open_export(str(SAMPLES / sample), scan_stream=True, opts=scan)
    report = summarize(verify(export, Options(jobs=1, scan=scan)), top=3)
    found = Problem(Kind.MISSING_BLOB, "sha256:" + "ab" * 32, "blobs/sha256/ab", "not found")
    return record.replace(report, problems=(*report.problems, found), ok=False)


def _check_lines(clean: str, poisoned: str) -> None:
    bad = [line for line in poisoned.split("\n") if UNSAFE.search(line)]
    assert not bad
    assert "FORGED" not in "".join(line[:6] for line in poisoned.split("\n"))
    assert poisoned.count("\n") == clean.count("\n")


SAMPLES_SEEN = ["partial", "attestations", "oci-layout", "docker-legacy.tar", "windows-foreign"]


@pytest.mark.parametrize("sample", SAMPLES_SEEN)
def test_no_renderer_prints_a_control_character_or_a_forged_line(sample: str) -> None:
    report = _report(sample)
    clean, dirty = _harmless(report), _poisoned(report)
    assert (
        dirty.model.images[0].refs != report.model.images[0].refs or not report.model.images[0].refs
    )
    renderers = [*INSPECT.values(), *VERIFY.values(), *REPORT.values()]
    for render in renderers:
        _check_lines(render(clean), render(dirty))
    inspect_only = record.replace(dirty, verified=False)
    _check_lines(
        INSPECT[Format.TEXT](record.replace(clean, verified=False)),
        INSPECT[Format.TEXT](inspect_only),
    )
    assert "\\033[31mFORGED\\a\\r" in REPORT[ReportFormat.TEXT](dirty)


@pytest.mark.parametrize("sample", SAMPLES_SEEN)
def test_json_keeps_every_string_exact(sample: str) -> None:
    dirty = _poisoned(_report(sample))
    doc = json.loads(REPORT[ReportFormat.JSON](dirty))
    assert doc["source"]["path"] == str(SAMPLES / sample) + POISON
    for shown, image in zip(doc["images"], dirty.model.images, strict=True):
        assert shown["refs"] == list(image.refs)
        assert [x["media_type"] for x in shown["layers"]] == [d.media_type for d in image.layers]
    assert [p["message"] for p in doc["problems"]] == [p.message for p in dirty.problems]
    assert doc["problems"][-1]["path"] == "blobs/sha256/ab" + POISON


def _footprint(sample: str) -> Footprint:
    export = open_export(str(SAMPLES / sample))
    return footprint([verify(export, Options(jobs=1))])


@pytest.mark.parametrize("sample", ["multi-platform", "attestations"])
def test_footprint_text_is_escaped(sample: str) -> None:
    fp = _footprint(sample)
    _check_lines(footprint_text(_harmless(fp)), footprint_text(_poisoned(fp)))
    doc = json.loads(footprint_json(_poisoned(fp)))
    assert doc["platforms"][0]["platform"] == fp.platforms[0].platform + POISON


# --- g05: the handed case, built here: refs and platform fields with newline, ESC, BEL ------


def _g05_layout(root: Path) -> None:
    """Two images whose refs carry a newline + a forged verdict and an ANSI colour, a platform
    with an OSC title sequence and a newline, and an absent manifest whose ref has a newline."""
    ref = "org.opencontainers.image.ref.name"
    root.mkdir()
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    descs = []
    for name in ("a", "b"):
        layer = tar_bytes([(name, name.encode())])
        config = {
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + _sha(layer)]},
        }
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                **put(root, json.dumps(config).encode()),
            },
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **put(root, layer)}],
        }
        descs.append(
            {"mediaType": manifest["mediaType"], **put(root, json.dumps(manifest).encode())}
        )
    descs[0]["annotations"] = {ref: "a\nFORGED ocianalyze: example.com: OK \x1b[2J"}
    descs[0]["platform"] = {"os": "linux\x1b]0;owned\x07", "architecture": "amd64\nFORGED-ARCH"}
    descs[1]["annotations"] = {ref: "b\x1b[31mRED\x1b[0m"}
    descs.append(
        {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": "sha256:" + "ab" * 32,
            "size": 10,
            "annotations": {ref: "y\nFORGED absent"},
        }
    )
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": descs}))


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    ("args", "codes"),
    [
        (["verify"], {1}),  # the absent manifest's blob is missing
        (["inspect"], {0, 1}),  # 1 once inspect reports the missing manifest as verify does
        (["report"], {1}),
        (["report", "--format", "markdown"], {1}),
        (["footprint"], {1}),
        (["files"], {2}),  # several images: the error names them, on one line
    ],
)
def test_g05_control_characters_in_refs(args: list[str], codes: set[int], tmp_path: Path) -> None:
    _g05_layout(tmp_path / "layout")
    run = run_cli(*args, str(tmp_path / "layout"))
    assert run.code in codes, run.err
    for stream in (run.out, run.err):
        assert not UNSAFE.search(stream.replace("\n", ""))
        assert not [line for line in stream.split("\n") if line.startswith("FORGED")]
    if run.code == 2:
        assert run.err.count("\n") == 1 and run.err.startswith("ocianalyze: ")
    if args == ["inspect"]:
        assert "a\\nFORGED ocianalyze: example.com: OK \\033[2J" in run.out
        assert "linux\\033]0;owned\\a/amd64\\nFORGED-ARCH" in run.out
