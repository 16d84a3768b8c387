"""The command line on the standard library: each command's help lists every option, usage
errors stay one line, and no command loads a third-party parser or what it does not use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("ocianalyze")
ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_images" / "oci-layout"

SCAN = ["--format", "-f", "--quiet", "-q", "--max-uncompressed", "--help"]
GATES = ["--fail-on", "--min-efficiency", "--max-wasted-bytes", "--max-wasted-percent",
         "--max-size", "--rules", "--scheduler"]  # fmt: skip
TRUST = ["--key", "--certificate-identity", "--certificate-identity-regexp",
         "--certificate-oidc-issuer", "--certificate-oidc-issuer-regexp", "--trusted-root",
         "--bundle", "--require-tlog", "--sign-identity", "--require-signature",
         "--expect"]  # fmt: skip
# Every option of every command, as the README documents them.
OPTIONS = {
    "inspect": ["--format", "-f", "--help"],
    "verify": [*SCAN, "--jobs", "-j", "--fast", "--strict", *GATES, *TRUST],
    "report": [*SCAN, "--jobs", "-j", "--strict", "--top", *GATES, *TRUST],
    "footprint": [*SCAN, "--jobs", "-j"],
    "files": [*SCAN, "--image", "--layer", "--merged"],
    "diff": [*SCAN, "--image", "--platform", "--have", "--top", "--jobs", "-j"],
}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("command", sorted(OPTIONS))
def test_each_command_s_help_lists_every_option_with_its_help(command: str) -> None:
    run = _run(command, "--help")
    assert (run.returncode, run.stderr) == (0, "")
    words = run.stdout.replace(",", " ").split()
    for option in OPTIONS[command]:
        assert option in words, option
    assert "Stop inflating a layer past this size." in " ".join(words) or command == "inspect"
    assert run.stdout.startswith(f"usage: ocianalyze {command} [OPTIONS]")


def test_the_root_help_names_every_command() -> None:
    run = _run("--help")
    assert run.returncode == 0
    listed = [line.split()[0] for line in run.stdout.splitlines() if line.startswith("  ")]
    assert set(OPTIONS) <= set(listed)


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["inspect", "--help", "--bogus"], "No such option: --bogus (see ocianalyze inspect"),
        (["verify", "--jobs"], "Option '--jobs' requires an argument. (see ocianalyze verify"),
        (["inspect", "-f"], "Option '-f' requires an argument."),
        (["verify", "--quiet=1", "."], "Option '--quiet' does not take a value."),
        (["verify", "-j", "-1", "."], "Invalid value for '--jobs' / '-j': -1 is not in the range"),
        (["files", "--layer", "0", "."], "Invalid value for '--layer': 0 is not in the range x>=1"),
        (["inspect", "--form", "json", "."], "No such option: --form (Possible options: --format)"),
        (["diff", "."], "Missing argument 'new'."),
        (["inspect", "a", "b", "c"], "Got unexpected extra argument(s) (b c)"),
        (["--version", "--bogus"], "No such option: --bogus (see ocianalyze --help)"),
    ],
)
def test_usage_errors_are_one_line_exit_2(args: list[str], line: str) -> None:
    run = _run(*args)
    assert run.returncode == 2
    assert run.stdout == ""
    assert run.stderr.startswith("ocianalyze: usage: ") and run.stderr.count("\n") == 1
    assert line in run.stderr, run.stderr


def test_options_and_paths_mix_in_any_order() -> None:
    """Options after, between and before the paths; grouped short flags; `--` before a path."""
    for args in (["-q", str(SAMPLE), str(SAMPLE)], [str(SAMPLE), "-qj2", str(SAMPLE)],
                 ["-q", "--", str(SAMPLE)], [str(SAMPLE), "--format=json", "-q"]):  # fmt: skip
        run = _run("verify", *args)
        assert (run.returncode, run.stderr) == (0, ""), (args, run.stderr)


def test_the_hint_names_python_m_when_run_as_a_module() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "ocianalyze", "inspect"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 2
    assert run.stderr == (
        "ocianalyze: usage: Missing argument 'path'. (see python -m ocianalyze inspect --help)\n"
    )


def _loaded(*args: str) -> set[str]:
    code = (
        f"import sys; sys.argv = ['ocianalyze', *{list(args)!r}]\n"
        "from ocianalyze_entry import main\n"
        "main()\n"
    )
    probe = (
        "import sys, os\n"
        "real = os._exit\n"
        "def leave(code):\n"
        "    sys.stderr.write('LOADED ' + ' '.join(sorted(sys.modules)) + '\\n')\n"
        "    sys.stderr.flush()\n"
        "    real(code)\n"
        "os._exit = leave\n" + code
    )
    run = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False,
        cwd=ROOT,
    )  # fmt: skip
    lines = [x for x in run.stderr.splitlines() if x.startswith("LOADED ")]
    assert lines, run.stderr
    return set(lines[-1].split()[1:])


@pytest.mark.parametrize(
    "args",
    [["inspect", str(SAMPLE)], ["verify", "-q", str(SAMPLE)], ["--help"], ["verify", "--help"],
     ["files", "--help"], ["nosuchcommand"]],
)  # fmt: skip
def test_no_command_loads_a_third_party_parser(args: list[str]) -> None:
    loaded = _loaded(*args)
    assert "ocianalyze.cli" in loaded and "argparse" in loaded
    assert not {m.split(".")[0] for m in loaded} & {"typer", "click", "rich"}


# --- each command imports what it uses ---------------------------------------------------------

SCANNING = {"ocianalyze.walker", "ocianalyze.tarwalk", "ocianalyze.merge", "ocianalyze.verify",
            "ocianalyze.entries", "ocianalyze.safety", "queue"}  # fmt: skip
OPTIONAL = {"ocianalyze.gates", "ocianalyze.trust", "ocianalyze.merge", "tomllib"}


def test_inspect_loads_no_scanning_machinery() -> None:
    """inspect reads metadata only: no walker, tar walk, merge, verifier or work queue."""
    loaded = _loaded("inspect", str(SAMPLE))
    assert {"ocianalyze.analysis", "ocianalyze.checks", "ocianalyze.sources"} <= loaded
    assert not loaded & (SCANNING | OPTIONAL)


def test_plain_verify_loads_neither_gates_nor_trust_nor_merge() -> None:
    loaded = _loaded("verify", "-q", str(SAMPLE))
    assert "ocianalyze.walker" in loaded
    assert not loaded & OPTIONAL


def test_a_rule_or_a_trust_option_still_loads_its_module(tmp_path: Path) -> None:
    assert "ocianalyze.gates" in _loaded("verify", "-q", "--min-efficiency", "0", str(SAMPLE))
    assert "ocianalyze.trust" in _loaded("verify", "-q", "--require-signature", str(SAMPLE))


def test_the_rules_file_name_is_the_gates_one() -> None:
    from ocianalyze import cli, gates

    assert cli.RULES_FILE == gates.DEFAULT_FILE


