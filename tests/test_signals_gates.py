"""CI gates: flags and a TOML rules file fail a run on a threshold and pass when it is raised."""

from __future__ import annotations

import gzip
import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from ocianalyze.gates import RulesError, parse_max_size, parse_size

from .builders import build_layout
from .conftest import SAMPLES, run_cli

A, B = b"a" * 10_000, b"b" * 1_000  # file "a" stored twice: the lower copy (10,000 B) wasted


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def wasteful(tmp_path: Path) -> tuple[Path, dict[str, float]]:
    """An image wasting 10,000 of its 21,000 file bytes, and its measures computed here."""
    tars = [_tar({"a": A, "b": B}), _tar({"a": A})]
    layers = [gzip.compress(t, mtime=0) for t in tars]
    build_layout(tmp_path / "img", layers)
    facts = {
        "efficiency": round(1 - 10_000 / 21_000, 6),
        "percent": round(100 * 10_000 / sum(map(len, tars)), 4),
        "stored": sum(map(len, layers)),
        "uncompressed": sum(map(len, tars)),
    }
    return tmp_path / "img", facts


def _verify(path: Path, *args: str, cwd: Path) -> tuple[int, str, str]:
    run = run_cli("verify", *args, str(path), cwd=cwd)
    return run.code, run.out, run.err


def test_rules_file_in_the_working_directory_fails_then_passes(
    wasteful: tuple[Path, dict[str, float]], tmp_path: Path
) -> None:
    path, facts = wasteful
    (tmp_path / ".ocianalyze.toml").write_text("min-efficiency = 0.9\n")
    code, out, err = _verify(path, cwd=tmp_path)
    assert code == 1
    assert out == f"{path}: OK: 2 blobs verified; 0 errors, 0 warnings, 0 notices\n"
    assert err == (
        f"ocianalyze: gate: min-efficiency: limit 0.9, value {facts['efficiency']} (image test)\n"
    )
    (tmp_path / ".ocianalyze.toml").write_text("min-efficiency = 0.5\n")
    assert _verify(path, cwd=tmp_path) == (0, out, "")


def test_flags_override_the_rules_file(
    wasteful: tuple[Path, dict[str, float]], tmp_path: Path
) -> None:
    path, _ = wasteful
    rules = tmp_path / "ci.toml"
    rules.write_text('max-wasted-bytes = "9kB"\nmin-efficiency = 0.9\n')
    code, _, err = _verify(path, "--rules", str(rules), "--min-efficiency", "0.5", cwd=tmp_path)
    assert code == 1
    assert err == "ocianalyze: gate: max-wasted-bytes: limit 9000, value 10000 (image test)\n"
    code, _, err = _verify(
        path, "--rules", str(rules), "--min-efficiency", "0.5", "--max-wasted-bytes", "10kB",
        cwd=tmp_path,
    )  # fmt: skip
    assert (code, err) == (0, "")


def test_wasted_percent_and_sizes(wasteful: tuple[Path, dict[str, float]], tmp_path: Path) -> None:
    path, facts = wasteful
    stored, uncompressed = int(facts["stored"]), int(facts["uncompressed"])
    run = run_cli(
        "report", "--max-wasted-percent", "1", "--max-size", f"linux={stored - 1}",
        "--max-size", f"*:uncompressed={uncompressed}", "--max-size", "linux/arm64=1",
        str(path), cwd=tmp_path,
    )  # fmt: skip
    assert run.code == 1
    assert run.err == (
        f"ocianalyze: gate: max-wasted-percent: limit 1, value {facts['percent']} (image test)\n"
        f"ocianalyze: gate: max-size linux:stored: limit {stored - 1}, value {stored} "
        "(image test, linux/amd64)\n"
    )
    raised = run_cli(
        "report", "--max-wasted-percent", str(facts["percent"]), "--max-size",
        f"linux/amd64={stored}", str(path), cwd=tmp_path,
    )  # fmt: skip
    assert (raised.code, raised.err) == (0, "")


def test_fail_on_names_a_kind_of_any_severity(tmp_path: Path) -> None:
    sample = SAMPLES / "debootstrap"
    (tmp_path / "r.toml").write_text('fail-on = ["case_collision", "setuid_setgid"]\n')
    run = run_cli("report", "--format", "json", "--rules", "r.toml", str(sample), cwd=tmp_path)
    assert run.code == 1 and run.json()["ok"] is True
    assert run.err == (
        "ocianalyze: gate: fail-on case_collision: limit 0, value 1\n"
        "ocianalyze: gate: fail-on setuid_setgid: limit 0, value 11\n"
    )
    run = run_cli("verify", "--fail-on", "device_node,unsafe_path", str(sample), cwd=tmp_path)
    assert (run.code, run.err) == (0, "")


@pytest.mark.parametrize(
    ("rules", "args", "message"),
    [
        ("min-efficiency = [", (), "--rules: RULES: not TOML: "),
        ("min-efficency = 0.9\n", (), "--rules: RULES: unknown key 'min-efficency'"),
        (
            "min-efficiency = 2\n",
            (),
            "--rules: RULES: min-efficiency: 2 is out of range (from 0 to 1)",
        ),
        (
            "max-size = 5\n",
            (),
            "--rules: RULES: max-size: expected a string or an array of strings",
        ),
        ("", ("--max-size", "linux/amd64"), "--max-size: 'linux/amd64' is not PLATFORM"),
        ("", ("--max-size", "linux:wire=1"), "'wire' is not one of stored, uncompressed, disk"),
        ("", ("--max-wasted-bytes", "10 parsecs"), "'10 parsecs' is no size"),
        ("", ("--fail-on", "setuid"), "--fail-on: 'setuid' is no problem kind"),
    ],
)
def test_a_bad_rule_is_one_usage_line(
    rules: str, args: tuple[str, ...], message: str, tmp_path: Path
) -> None:
    path = tmp_path / "r.toml"
    path.write_text(rules)
    for command in ("verify", "report"):
        run = run_cli(command, "--rules", str(path), *args, str(SAMPLES / "oci-layout"))
        assert run.code == 2 and run.out == ""
        assert run.err.startswith("ocianalyze: usage: Invalid value for "), run.err
        assert message.replace("RULES", str(path)) in run.err
        assert run.err.endswith(f" {command} --help)\n")  # (see ocianalyze verify --help)
        assert run.err.count("\n") == 1


def test_a_missing_rules_file_is_a_usage_error(tmp_path: Path) -> None:
    run = run_cli("verify", "--rules", str(tmp_path / "none.toml"), str(SAMPLES / "oci-layout"))
    assert run.code == 2
    assert f"{tmp_path / 'none.toml'}: No such file or directory" in run.err
    assert run.err.count("\n") == 1


@pytest.mark.parametrize(
    ("text", "size"),
    [("0", 0), ("1000", 1000), ("120MiB", 120 << 20), ("50MB", 50_000_000), ("3 kB", 3000),
     ("1GiB", 1 << 30), ("2GB", 2_000_000_000)],
)  # fmt: skip
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text, "--x") == size


@pytest.mark.parametrize("text", ["", "MB", "1.5MB", "-1", "12mb", "1 MiB extra"])
def test_not_sizes(text: str) -> None:
    with pytest.raises(RulesError, match="is no size"):
        parse_size(text, "--x")


def test_max_size_syntax() -> None:
    rule = parse_max_size("linux/arm64/v8:disk=1KiB")
    assert (rule.platform, rule.measure.value, rule.limit) == ("linux/arm64/v8", "disk", 1024)
    assert parse_max_size("*=5").measure.value == "stored"


def _imported(*args: str, cwd: Path) -> set[str]:
    """Every module a run imports, from ``python -X importtime``'s lines on stderr."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ocianalyze", *args],
        capture_output=True, cwd=cwd, check=False, timeout=120,
    )  # fmt: skip
    lines = proc.stderr.decode().splitlines()
    return {line.rsplit("|", 1)[-1].strip() for line in lines if line.startswith("import time:")}


def test_plain_verify_imports_no_toml_nor_xml_nor_sarif(tmp_path: Path) -> None:
    sample = str(SAMPLES / "oci-layout")
    plain = _imported("verify", sample, cwd=tmp_path)
    assert "ocianalyze.verify" in plain  # the check of the import list itself
    assert "ocianalyze.gates" not in plain  # no rule anywhere: the gates are not even loaded
    assert not {"tomllib._parser", "xml.etree.ElementTree", "ocianalyze.report.sarif"} & plain
    (tmp_path / ".ocianalyze.toml").write_text("min-efficiency = 0\n")
    assert "tomllib._parser" in _imported("verify", sample, cwd=tmp_path)
