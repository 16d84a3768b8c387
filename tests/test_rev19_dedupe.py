"""checks.dedupe: one read problem per (kind, blob), and no fewer."""

from __future__ import annotations

from ocianalyze.checks import dedupe
from ocianalyze.errors import Kind, Problem

D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64
CAUSE = "the cluster could not scan it (ModuleNotFoundError: No module named 'ocianalyze')"


def test_a_failed_task_per_blob_is_kept() -> None:
    """Cluster task failures carry no digest: their path names the blob."""
    found = [
        Problem(Kind.UNREADABLE_BLOB, "", "x.tar: blobs/sha256/aa", CAUSE),
        Problem(Kind.UNREADABLE_BLOB, "", "x.tar: blobs/sha256/bb", CAUSE),
        Problem(Kind.UNREADABLE_BLOB, "", "x.tar: blobs/sha256/aa", CAUSE),
    ]
    assert list(dedupe(found)) == found[:2]


def test_one_read_problem_per_kind_and_blob() -> None:
    found = [
        Problem(Kind.MISSING_BLOB, D1, "app:1", f"blob {D1} is absent"),
        Problem(Kind.MISSING_BLOB, D1, "app:2", f"config {D1} is absent"),
        Problem(Kind.MISSING_BLOB, D2, "app:2", f"blob {D2} is absent"),
        Problem(Kind.UNREADABLE_BLOB, D1, "app:1", "Permission denied"),
        Problem(Kind.BAD_METADATA, D1, "app:1", "one"),
        Problem(Kind.BAD_METADATA, D1, "app:2", "two"),
        Problem(Kind.BAD_METADATA, D1, "app:2", "one"),
    ]
    assert list(dedupe(found)) == [found[0], found[2], found[3], found[4], found[5]]
