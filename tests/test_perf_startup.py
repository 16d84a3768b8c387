"""Start-up: `--version` is answered before the command line is imported, and importing the
package loads nothing else; both give what the full command line gives."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("ocianalyze")
ROOT = Path(__file__).resolve().parent.parent


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )


def _modules(stderr: str) -> set[str]:
    lines = [x for x in stderr.splitlines() if x.startswith("import time:")]
    return {x.rsplit("|", 1)[-1].strip() for x in lines}


def test_version_from_the_entry_equals_the_command_line_s() -> None:
    fast = subprocess.run(
        [str(SCRIPT), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    full = _run(
        "import sys; sys.argv = ['ocianalyze', '--version']; "
        "from ocianalyze.cli import main; main()"
    )
    assert "ocianalyze.cli" in _modules(full.stderr)  # the reference went through the CLI
    assert fast.stdout == full.stdout == "ocianalyze 0.1.0\n"
    assert (fast.returncode, fast.stderr) == (0, "")


def test_version_imports_neither_typer_nor_the_readers() -> None:
    proc = _run(
        "import sys; sys.argv = ['ocianalyze', '--version']; "
        "from ocianalyze_entry import main; main()"
    )
    assert proc.stdout == "ocianalyze 0.1.0\n"
    loaded = _modules(proc.stderr)
    assert "ocianalyze" in loaded
    assert not {
        m for m in loaded if m.startswith(("typer", "click", "rich", "tqdm", "ocianalyze."))
    }
    assert "typing" not in loaded


@pytest.mark.parametrize("args", [["--version", "--help"], ["--help"]])
def test_other_root_options_still_reach_the_command_line(args: list[str]) -> None:
    proc = subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0
    assert proc.stdout.startswith("ocianalyze 0.1.0") == (args[0] == "--version")
    if args == ["--help"]:
        assert "verify" in proc.stdout and "inspect" in proc.stdout


def test_the_package_imports_nothing_until_a_name_is_used() -> None:
    proc = _run("import ocianalyze")
    assert proc.returncode == 0, proc.stderr
    loaded = _modules(proc.stderr)
    assert not {m for m in loaded if m.startswith("ocianalyze.")}
    assert not loaded & {"typer", "tqdm", "dataclasses", "typing"}


def test_public_names_resolve_and_verify_stays_the_function() -> None:
    code = (
        "import ocianalyze.verify, ocianalyze.sources, ocianalyze\n"
        "from ocianalyze import verify, Options, Verification, open_export, Export, ExportFormat\n"
        "import ocianalyze.verify as vm, sys\n"
        "mod = sys.modules['ocianalyze.verify']\n"
        "src = sys.modules['ocianalyze.sources']\n"
        "assert verify is mod.verify and ocianalyze.verify is mod.verify\n"
        "assert Options is mod.Options and Verification is mod.Verification\n"
        "assert open_export is mod.open_export\n"
        "assert Export is src.Export and ExportFormat is src.ExportFormat\n"
        "try:\n    ocianalyze.nothing_here\nexcept AttributeError:\n    print('ok')\n"
    )
    proc = _run(code)
    assert (proc.returncode, proc.stdout) == (0, "ok\n"), proc.stderr


SAMPLE = ROOT / "sample_images" / "oci-layout"


def _verify_imports(target: str, stdin: bytes | None = None) -> set[str]:
    proc = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-c",
            f"import sys; sys.argv = ['ocianalyze', 'verify', '-q', {target!r}]; "
            "from ocianalyze_entry import main; main()",
        ],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return _modules(proc.stderr.decode())


def test_small_verify_skips_the_allocator_tuning_a_stream_gets_it() -> None:
    """ctypes (to set glibc's malloc policy) is loaded only where it pays: for a stream, whose
    size is unknown when it is scanned, not for a directory with a few KB of blobs."""
    assert "ctypes" not in _verify_imports(str(SAMPLE))
    archive = (ROOT / "sample_images" / "oci-archive.tar").read_bytes()
    assert "ctypes" in _verify_imports("-", archive)


@pytest.mark.parametrize("command", ["inspect", "verify"])
def test_small_runs_load_no_tarfile_tqdm_rich_or_ctypes(command: str) -> None:
    """What a small run does not need stays unloaded: the outer tar is read by our own header
    parser, the bar only with a terminal, rich only for help and usage errors, and the model's
    classes are records (ocianalyze.record), not dataclasses, which import ``inspect``."""
    proc = _run(
        f"import sys; sys.argv = ['ocianalyze', {command!r}, {str(SAMPLE)!r}]; "
        "from ocianalyze_entry import main; main()"
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    loaded = _modules(proc.stderr)
    assert "ocianalyze.cli" in loaded  # the command line did run
    assert not loaded & {"tarfile", "tqdm", "rich", "ctypes", "dataclasses", "inspect"}
