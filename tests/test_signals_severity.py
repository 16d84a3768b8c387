"""Three severities: each kind's as documented, the verdict they give, how verify prints them."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from ocianalyze.errors import SEVERITY, Kind, Problem, Severity

from .builders import build_layout, tar_bytes
from .conftest import SAMPLES, run_cli

# The decision, written out once more by hand: a change of severity must change this table.
EXPECTED = {
    "digest_mismatch": "error", "size_mismatch": "error", "missing_blob": "error",
    "corrupt_compression": "error", "truncated": "error", "trailing_data": "error",
    "not_a_tar": "error", "diff_id_mismatch": "error", "diff_id_count_mismatch": "error",
    "bad_metadata": "error", "limit_exceeded": "error", "blob_outside_export": "error",
    "unreadable_blob": "error", "unsupported_compression": "error",
    "media_type_mismatch": "warning", "unknown_media_type": "warning",
    "unverifiable_digest": "warning", "unsafe_path": "warning", "link_escape": "warning",
    "device_node": "notice", "duplicate_entry": "warning", "foreign_layer_absent": "warning",
    "platform_absent": "warning", "index_disagreement": "warning",
    "platform_mismatch": "warning", "bad_hardlink": "warning",
    "digest_not_expected": "error", "device_node_outside_dev": "warning",
    "signature_invalid": "error", "signature_mismatch": "error", "tlog_invalid": "error",
    "unsigned": "error", "signature_untrusted": "warning",
    "signature_reference_mismatch": "warning", "signature_unsupported": "notice",
    "missing_end_of_archive": "notice", "history_mismatch": "notice",
    "setuid_setgid": "notice", "case_collision": "notice",
}  # fmt: skip
README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_kind_has_the_documented_severity() -> None:
    assert set(SEVERITY) == set(Kind)
    assert {k.value: s.value for k, s in SEVERITY.items()} == EXPECTED
    for kind in Kind:
        problem = Problem(kind, None, "img", "m")
        assert problem.severity.value == EXPECTED[kind.value]
        assert problem.line() == f"{EXPECTED[kind.value]}: {kind.value}: img: m"
        row = next(r for r in README.splitlines() if r.startswith(f"| `{kind.value}` |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1] == EXPECTED[kind.value] and len(cells) == 4 and cells[3], row


@pytest.mark.parametrize(
    ("severity", "plain", "strict"),
    [("error", True, True), ("warning", False, True), ("notice", False, False)],
)
def test_what_fails_a_run(severity: str, plain: bool, strict: bool) -> None:
    kind = next(k for k, s in SEVERITY.items() if s is Severity(severity))
    problem = Problem(kind, None, "", "m")
    assert (problem.fails(), problem.fails(strict=True)) == (plain, strict)


def test_counts_come_from_the_layer_not_from_names(tmp_path: Path) -> None:
    """Eight setuid files, one named as a summary would be worded: five named findings and one
    "and 3 more like it" standing for three; a name cannot forge a count."""
    forged = "usr/bin/x: 99999 more names y"
    names = [forged, *(f"usr/bin/s{i}" for i in range(7))]
    members = []
    for name in names:
        info = tarfile.TarInfo(name)
        info.mode, info.size = 0o4755, 1
        members.append((info, b"x"))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for info, data in members:
            tf.addfile(info, io.BytesIO(data))
    build_layout(tmp_path / "l", [gzip.compress(buf.getvalue(), mtime=0)])
    doc = run_cli("verify", "--format", "json", str(tmp_path / "l")).json()
    setuid = [p for p in doc["problems"] if p["kind"] == "setuid_setgid"]
    assert [p["count"] for p in setuid] == [1, 1, 1, 1, 1, 3]
    assert doc["counts"] == {"error": 0, "warning": 0, "notice": 8}


DEBOOTSTRAP = SAMPLES / "debootstrap"


def test_debootstrap_sample_prints_no_warning_and_one_notice_line() -> None:
    run = run_cli("verify", str(DEBOOTSTRAP))
    assert (run.code, run.err) == (0, "")
    assert run.out == (
        "notices: setuid_setgid \u00d711, case_collision \u00d71 (see report)\n"
        f"{DEBOOTSTRAP}: OK: 1 blob verified; 0 errors, 0 warnings, 12 notices\n"
    )
    assert run_cli("verify", "--strict", str(DEBOOTSTRAP)).code == 0


def test_debootstrap_sample_json_and_report_list_every_notice() -> None:
    doc = run_cli("verify", "--format", "json", str(DEBOOTSTRAP)).json()
    assert doc["counts"] == {"error": 0, "warning": 0, "notice": 12}
    assert doc["ok"] is True
    kinds = [(p["kind"], p["severity"], p["count"]) for p in doc["problems"]]
    # At most five findings of a kind are named per layer; the sixth problem counts the rest.
    assert sorted(kinds) == sorted(
        [("setuid_setgid", "notice", 1)] * 5
        + [("setuid_setgid", "notice", 6), ("case_collision", "notice", 1)]
    )
    report = run_cli("report", str(DEBOOTSTRAP))
    assert report.code == 0
    notices = [line for line in report.out.splitlines() if line.startswith("notice: ")]
    assert len(notices) == 7
    assert "notice: setuid_setgid: bookworm: " in notices[0]
    assert report.out.endswith("verified: all blobs match; 0 errors, 0 warnings, 12 notices\n")


def _setuid(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode = 0o4755
    return info


def test_warnings_one_per_line_notices_summed_strict_fails_on_the_warning(tmp_path: Path) -> None:
    bad = tarfile.TarInfo("../evil")
    tar = tar_bytes([bad, *(_setuid(f"bin/s{i}") for i in range(7))])
    layer = gzip.compress(tar, mtime=0)
    build_layout(tmp_path / "l", [layer])
    digest = "sha256:" + hashlib.sha256(layer).hexdigest()
    run = run_cli("verify", str(tmp_path / "l"))
    assert run.code == 0
    assert run.out == (
        f"warning: unsafe_path: test: {digest}: '..' in path '../evil'\n"
        "notices: setuid_setgid \u00d77 (see report)\n"
        f"{tmp_path / 'l'}: OK: 1 blob verified; 0 errors, 1 warning, 7 notices\n"
    )
    strict = run_cli("verify", "--strict", str(tmp_path / "l"))
    assert strict.code == 1
    assert strict.out.endswith(
        f"{tmp_path / 'l'}: FAILED: 1 blob read; 0 errors, 1 warning, 7 notices\n"
    )
