"""Hostile trust material: every file given to a trust option that is not what the option
needs is one line naming that file and exit 2 (a usage error), with bounded memory; signature
material inside the export nested too deeply is a finding about that signature, not a failure
of the whole run."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from .exports import OCI_MANIFEST, sha, to_dir
from .test_trust_build import SIMPLE_SIGNING, _add_manifest, _config, add_signature, pem
from .test_trust_cosign import Case, kinds, outcomes

DEEP = b"[" * 10_000 + b"]" * 10_000
DEEP_OBJECT = b'{"a":' * 10_000 + b"1" + b"}" * 10_000


def _export(tmp: Path) -> tuple[Path, Path]:
    case = Case(tmp, "layout")
    add_signature(case.written, case.digests[0], key=case.key)
    key = tmp / "good.pub"
    key.write_bytes(pem(case.key))
    return to_dir(case.written, tmp / "export"), key


_MEASURED = (
    "import resource, subprocess, sys\n"
    "p = subprocess.run(sys.argv[1:], capture_output=True, timeout=120)\n"
    "sys.stdout.write(repr((p.returncode, p.stdout.decode(), p.stderr.decode(),"
    " resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)))\n"
)


def _run(*args: str) -> tuple[int, str, str, int]:
    """Exit code, stdout, stderr and the peak RSS (KiB) of ``ocianalyze verify ARGS``, measured
    in a fresh parent so that no other child counts."""
    command = [sys.executable, "-m", "ocianalyze", "verify", *args]
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURED, *command],
        capture_output=True,
        timeout=180,
        check=True,
    )
    code, out, err, peak = ast.literal_eval(proc.stdout.decode())
    return code, out, err, peak


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["array", "object"])
@pytest.mark.parametrize("option", ["--trusted-root", "--bundle"])
def test_deeply_nested_file_names_that_file(option: str, body: bytes, tmp_path: Path) -> None:
    export, key = _export(tmp_path)
    bad = tmp_path / "deep.json"
    bad.write_bytes(body)
    code, out, err, _ = _run(str(export), "--key", str(key), option, str(bad))
    assert code == 2, err
    assert out == "" and err.count("\n") == 1
    assert err.startswith(f"ocianalyze: {bad}: ") and "Traceback" not in err


@pytest.mark.parametrize(
    "body", [b"not json\n", b"[1, 2]", b'{"mediaType": "x"}'], ids=["text", "array", "no-sig"]
)
def test_a_bundle_file_that_is_no_bundle_is_exit_2(body: bytes, tmp_path: Path) -> None:
    export, key = _export(tmp_path)
    bad = tmp_path / "b.json"
    bad.write_bytes(body)
    code, out, err, _ = _run(str(export), "--key", str(key), "--bundle", str(bad))
    assert code == 2, (out, err)
    assert err.startswith(f"ocianalyze: {bad}: not a Sigstore bundle") and err.count("\n") == 1


def test_a_gigabyte_of_zeros_as_bundle_is_exit_2_in_bounded_memory(tmp_path: Path) -> None:
    export, key = _export(tmp_path)
    zeros = tmp_path / "zeros.json"
    with open(zeros, "wb") as f:
        f.truncate(1 << 30)  # sparse: no disk used
    code, out, err, peak = _run(str(export), "--key", str(key), "--bundle", str(zeros))
    assert code == 2, (out, err)
    assert err.startswith(f"ocianalyze: {zeros}: ") and err.count("\n") == 1
    assert "too large" in err
    assert peak < 200 * 1024, peak  # KiB: far below the file's size


def test_a_signature_payload_nested_too_deeply_is_a_finding(tmp_path: Path) -> None:
    """A cosign payload layer of 10,000 nested arrays: that signature is malformed
    (signature_invalid), the rest of the export is still judged."""
    case = Case(tmp_path, "layout")
    payload = DEEP
    case.written.put_blob(payload)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": _config(case.written, payload),
        "layers": [
            {
                "mediaType": SIMPLE_SIGNING,
                "digest": sha(payload),
                "size": len(payload),
                "annotations": {"dev.cosignproject.cosign/signature": "QUJD"},
            }
        ],
    }
    _add_manifest(case.written, manifest, f"sha256-{case.digests[0][7:]}.sig")
    run = case.run(*case.key_args())
    assert run.code == 1, run.err
    assert outcomes(run) == [("cosign", "malformed")]
    assert kinds(run) == {"signature_invalid"}
    assert json.loads(run.out)["images"][0]["kind"] == "image"
