"""A file shared by two exports under different names (a hard link from a skopeo dir: to an
OCI layout), which a worker cannot read: each export's problem names its own file, as
verifying that export alone does."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from ocianalyze.bundle import Run, ScanTask, TaskResult, verify_bundle
from ocianalyze.errors import Kind, Problem
from ocianalyze.verify import Options

from .exports import Image, gz, layer_tar, oci, sha, skopeo_dir, to_dir

TAR = layer_tar({"hello": b"hello\n" * 50})


def _refused(tasks: Sequence[ScanTask]) -> Iterator[tuple[int, TaskResult]]:
    """What ``run_task`` gives on a worker refused the file (EACCES), for every task."""
    for i, t in enumerate(tasks):
        where = f"{t.export}: {t.locator.name}"
        yield i, TaskResult(None, Problem(Kind.UNREADABLE_BLOB, "", where, "Permission denied"))


def test_each_export_names_its_own_copy_of_a_shared_file(tmp_path: Path) -> None:
    image = Image([TAR])
    layout = to_dir(oci([image]), tmp_path / "layout")
    skopeo = to_dir(skopeo_dir(image), tmp_path / "skopeo")
    hexa = sha(gz(TAR))[7:]
    (skopeo / hexa).unlink()
    os.link(layout / "blobs/sha256" / hexa, skopeo / hexa)
    bundle = verify_bundle([str(layout), str(skopeo)], Run(Options(jobs=1), _refused))
    assert (bundle.tasks, bundle.uses) == (1, 2)  # one file, read (tried) once for both
    found = []
    for entry in bundle.entries:
        assert entry.report is not None
        found += [
            (p.path, p.digest) for p in entry.report.problems if p.kind is Kind.UNREADABLE_BLOB
        ]
    assert found == [
        (f"{layout}: blobs/sha256/{hexa}", f"sha256:{hexa}"),
        (f"{skopeo}: {hexa}", f"sha256:{hexa}"),
    ]
