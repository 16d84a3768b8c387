"""Rules that must be refused in one usage line (exit 2), never run past, hang or crash."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ocianalyze.gates import MAX_FILE, RulesError, parse_max_size, parse_size

from .conftest import SAMPLES, run_cli

SAMPLE = str(SAMPLES / "debootstrap")  # 19,552 stored bytes, linux/amd64, notices only


def _usage(run_err: str, *fragments: str) -> None:
    assert run_err.startswith("ocianalyze: usage: Invalid value for "), run_err
    assert run_err.count("\n") == 1, run_err
    for fragment in fragments:
        assert fragment in run_err, run_err


@pytest.mark.parametrize("digits", ["9" * 31, "9" * 5000])
def test_a_size_of_too_many_digits_is_no_size(digits: str) -> None:
    """Python refuses int() of more than 4300 digits: that was an internal error."""
    with pytest.raises(RulesError, match="is no size"):
        parse_size(digits, "--x")
    run = run_cli("verify", "--max-size", f"*={digits}", SAMPLE)
    assert run.code == 2 and run.out == ""
    _usage(run.err, "--max-size", "is no size")


def test_thirty_digits_are_a_size() -> None:
    assert parse_size("9" * 30, "--x") == int("9" * 30)


@pytest.mark.parametrize("text", ["\u0661\u0662", "\uff11\uff12kB", "1\u00b2"])
def test_digits_of_other_scripts_are_no_size(text: str) -> None:
    with pytest.raises(RulesError, match="is no size"):
        parse_size(text, "--x")


@pytest.mark.parametrize(
    "text", ["linux / amd64=1", "linux/=1", "/amd64=1", "linux//amd64=1", "a/b/c/d=1", "**=1"]
)
def test_a_platform_that_can_name_no_image_is_refused(text: str) -> None:
    """A rule that can match nothing would pass every run: refused, not ignored."""
    with pytest.raises(RulesError, match="is not \\* nor os"):
        parse_max_size(text)
    run = run_cli("verify", "--max-size", text, SAMPLE)
    assert run.code == 2
    _usage(run.err, "--max-size", "os[/arch[/variant]]")


def test_a_well_formed_platform_still_gates() -> None:
    run = run_cli("verify", "--max-size", "linux/amd64=19551", SAMPLE)
    assert run.code == 1
    assert run.err == (
        "ocianalyze: gate: max-size linux/amd64:stored: limit 19551, value 19552 "
        "(image bookworm, linux/amd64)\n"
    )
    assert run_cli("verify", "--max-size", "linux/amd64=19552", SAMPLE).code == 0


def test_a_default_rules_file_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / ".ocianalyze.toml").mkdir()
    run = run_cli("verify", SAMPLE, cwd=tmp_path)
    assert run.code == 2 and run.out == ""
    _usage(run.err, ".ocianalyze.toml: Is a directory")


def test_a_dangling_default_rules_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / ".ocianalyze.toml").symlink_to(tmp_path / "gone.toml")
    run = run_cli("verify", SAMPLE, cwd=tmp_path)
    assert run.code == 2
    _usage(run.err, ".ocianalyze.toml: No such file or directory")


def test_dev_zero_is_read_no_further_than_a_rules_file_can_be() -> None:
    """/dev/zero never ends: it was read until memory ran out."""
    run = run_cli("verify", "--rules", "/dev/zero", SAMPLE, timeout=60)
    assert run.code == 2
    _usage(run.err, f"/dev/zero: larger than {MAX_FILE} bytes")


def test_dev_null_is_an_empty_rules_file(tmp_path: Path) -> None:
    """``--rules /dev/null`` runs without the working directory's rules."""
    (tmp_path / ".ocianalyze.toml").write_text('max-size = "*=1"\n')
    assert run_cli("verify", SAMPLE, cwd=tmp_path).code == 1
    assert run_cli("verify", "--rules", "/dev/null", SAMPLE, cwd=tmp_path).code == 0


def test_a_pipe_is_read_and_a_writerless_fifo_is_not_waited_for(tmp_path: Path) -> None:
    read, write = os.pipe()
    os.write(write, b'max-size = "*=1"\n')
    os.close(write)
    proc = subprocess.run(
        [sys.executable, "-m", "ocianalyze", "verify", "--rules", f"/dev/fd/{read}", SAMPLE],
        pass_fds=(read,), capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    os.close(read)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.decode().startswith("ocianalyze: gate: max-size *:stored: limit 1, ")
    fifo = tmp_path / "rules.toml"
    os.mkfifo(fifo)
    assert run_cli("verify", "--rules", str(fifo), SAMPLE, timeout=60).code == 0


def test_a_huge_rules_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.toml"
    path.write_bytes(b"# " + b"x" * MAX_FILE + b"\nmin-efficiency = 0.1\n")
    run = run_cli("verify", "--rules", str(path), SAMPLE)
    assert run.code == 2
    _usage(run.err, f"larger than {MAX_FILE} bytes")
    path.write_bytes(b"# " + b"x" * (MAX_FILE - 100) + b"\nmin-efficiency = 0.1\n")
    assert run_cli("verify", "--rules", str(path), SAMPLE).code == 0


def test_an_empty_rules_path_is_refused_by_name() -> None:
    run = run_cli("verify", "--rules", "", SAMPLE)
    assert run.code == 2
    _usage(run.err, "an empty path names no file")


FAST = "value not measured (--fast, or a layer not read)"


def test_fast_measures_no_waste_so_a_waste_rule_cannot_pass() -> None:
    """`verify --fast` reads no layer's content: a waste rule passed without a value."""
    run = run_cli(
        "verify", "--fast", "--min-efficiency", "0.5", "--max-wasted-bytes", "1MB", SAMPLE
    )
    assert run.code == 1
    assert run.err == (
        f"ocianalyze: gate: min-efficiency: limit 0.5, {FAST} (image bookworm)\n"
        f"ocianalyze: gate: max-wasted-bytes: limit 1000000, {FAST} (image bookworm)\n"
    )
    assert (
        run_cli("verify", "--min-efficiency", "0.5", "--max-wasted-bytes", "1MB", SAMPLE).code == 0
    )


@pytest.mark.parametrize("measure", ["disk", "uncompressed"])
def test_fast_measures_no_unpacked_size(measure: str) -> None:
    run = run_cli("verify", "--fast", "--max-size", f"*:{measure}=1GB", SAMPLE)
    assert run.code == 1
    assert run.err == (
        f"ocianalyze: gate: max-size *:{measure}: limit 1000000000, {FAST} "
        "(image bookworm, linux/amd64)\n"
    )
    assert run_cli("verify", "--max-size", f"*:{measure}=1GB", SAMPLE).code == 0


def test_fast_still_gates_the_stored_size() -> None:
    """Stored sizes are the descriptors': measured without reading a layer."""
    assert run_cli("verify", "--fast", "--max-size", "*=19552", SAMPLE).code == 0
    run = run_cli("verify", "--fast", "--max-size", "*=19551", SAMPLE)
    assert run.code == 1
    assert run.err.endswith("limit 19551, value 19552 (image bookworm, linux/amd64)\n")


def test_fast_cannot_pass_a_fail_on_of_a_kind_found_in_layer_content() -> None:
    run = run_cli("verify", "--fast", "--fail-on", "setuid_setgid,digest_mismatch", SAMPLE)
    assert run.code == 1
    assert run.err == (
        "ocianalyze: gate: fail-on setuid_setgid: limit 0, value not checked "
        "(--fast, or a layer not read)\n"
    )
    assert run_cli("verify", "--fast", "--fail-on", "digest_mismatch", SAMPLE).code == 0


def test_a_removed_working_directory_holds_no_rules(tmp_path: Path) -> None:
    """Path.cwd() fails there: that was reported as 'stdout: No such file or directory'."""
    gone = tmp_path / "gone"
    gone.mkdir()
    entry = Path(sys.executable).with_name("ocianalyze")
    if not entry.exists():
        pytest.skip("the ocianalyze console script is not installed beside this Python")
    script = f'cd "{gone}" && rmdir "{gone}" && exec "{entry}" verify "$0"'
    proc = subprocess.run(
        ["sh", "-c", script, SAMPLE], capture_output=True, timeout=120, check=False
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().endswith("OK: 1 blob verified; 0 errors, 0 warnings, 12 notices\n")
