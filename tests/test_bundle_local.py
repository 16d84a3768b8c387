"""`verify`/`report` over many exports on this machine: one summary, the worst exit code,
each export's figures exactly as verifying it alone gives them, shared files read once."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from ocianalyze.bundle import Locator, ScanTask, run_task, scan_task
from ocianalyze.verify import Read
from ocianalyze.walker import ScanOptions

from .conftest import run_cli
from .exports import Image, gz, layer_tar, oci, sha, to_dir
from .test_bundle_build import Built, build, layer_files


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build(tmp_path_factory.mktemp("bundle"))


def _json(*args: str, code: int = 1) -> dict[str, Any]:
    run = run_cli(*args, "--format", "json", timeout=120)
    assert run.code == code, run.err
    assert "Traceback" not in run.err
    doc: dict[str, Any] = run.json()
    return doc


def test_many_exports_one_summary_worst_exit_code(bundle: Built) -> None:
    doc = _json("verify", *map(str, bundle.paths))
    assert sorted(doc) == ["exports", "run", "schema_version", "summary"]
    rows = doc["summary"]["rows"]
    assert [r["path"] for r in rows] == [str(p) for p in bundle.paths]
    for row, path in zip(rows, bundle.paths, strict=True):
        assert row["images"] == bundle.images[path]
        assert row["verdict"] == ("failed" if path in bundle.damaged else "ok"), row
    for path, kinds in bundle.damaged.items():
        entry = doc["exports"][bundle.paths.index(path)]
        assert {p["kind"] for p in entry["problems"]} == kinds
    assert doc["summary"]["verdict"] == "failed" and doc["summary"]["ok"] is False
    assert doc["summary"]["exports"] == len(bundle.paths)
    assert doc["summary"]["images"] == sum(bundle.images.values())
    assert doc["run"]["executor"] == "threads"


def test_each_export_reads_as_it_does_alone(bundle: Built) -> None:
    """The bundle's document for each export is the one `verify --format json` gives it."""
    doc = _json("verify", *map(str, bundle.paths))
    for path, entry in zip(bundle.paths, doc["exports"], strict=True):
        alone = _json("verify", str(path), code=1 if path in bundle.damaged else 0)
        assert entry == alone, path


def _reads(paths: list[Path]) -> dict[str, int]:
    reads: dict[str, int] = _json("verify", *map(str, paths))["summary"]["reads"]
    return reads


def test_shared_files_are_read_once_copies_each(bundle: Built) -> None:
    """A hardlinked copy adds no read; a plain copy adds a read of each of its layer files."""
    assert bundle.copied is not None
    base = [p for p in bundle.paths if p not in bundle.hardlinked and p != bundle.copied]
    without = _reads(base)
    with_links = _reads([*base, *bundle.hardlinked])
    assert (with_links["tasks"], with_links["bytes"]) == (without["tasks"], without["bytes"])
    linked_layers = sum(len(layer_files(p)) for p in bundle.hardlinked)
    assert with_links["shared"] == without["shared"] + linked_layers
    with_copy = _reads([*base, bundle.copied])
    copy_layers = layer_files(bundle.copied)
    assert with_copy["tasks"] == without["tasks"] + len(copy_layers)
    assert with_copy["bytes"] == without["bytes"] + sum(f.stat().st_size for f in copy_layers)


def test_text_table_and_unreadable_export(tmp_path: Path) -> None:
    tar = layer_tar({"f": b"hello\n"})
    layer = gz(tar)
    to_dir(oci([Image([tar])]), tmp_path / "good")
    run = run_cli("verify", "good", "missing", cwd=tmp_path)
    assert run.code == 2, run.err
    assert run.err == "ocianalyze: missing: no such file or directory\n"
    size = f"{len(layer)}.0 B"  # under 1000 bytes: the table says so in bytes
    assert len(layer) < 1000 and sha(layer)
    assert run.out == (
        "missing: no such file or directory\n"
        f"EXPORT   IMAGES  BLOBS  {'BYTES':>{len(size)}}  VERDICT     PROBLEMS\n"
        f"good          1      1  {size}  OK                 0\n"
        f"missing       0      0  {'0.0 B':>{len(size)}}  UNREADABLE         1\n"
        f"2 exports: 1 ok, 0 failed, 1 unreadable; 1 reads of {size} (0 shared)\n"
    )


def test_report_many_exports(bundle: Built) -> None:
    paths = [bundle.paths[0], bundle.paths[-1]]
    doc = _json("report", *map(str, paths))
    alone = _json("report", str(paths[0]), code=0)
    assert doc["exports"][0] == alone
    assert doc["exports"][0]["images"][0]["waste"] is not None  # entries were collected
    text = run_cli("report", *map(str, paths))
    assert text.code == 1
    first = run_cli("report", str(paths[0])).out
    assert text.out.startswith(first + "\n")
    assert text.out.splitlines()[-1].startswith("2 exports: 1 ok, 1 failed, 0 unreadable")


def test_scan_task_pickles_and_a_path_it_cannot_open_is_a_problem(bundle: Built) -> None:
    layout = bundle.paths[0]
    layer = layer_files(layout)[0]
    name = str(layer.relative_to(layout))
    opts = ScanOptions(collect_entries=True)
    task = ScanTask(
        str(layout),
        Locator(str(layout.resolve()), name),
        "sha256",
        Read.LAYER,
        opts,
        layer.stat().st_size,
    )
    assert pickle.loads(pickle.dumps(task)) == task
    result = scan_task(task)
    assert result is not None and str(result.digest) == "sha256:" + layer.name
    back = pickle.loads(pickle.dumps(result))
    assert (back.digest, back.size, back.diff_id, back.tar) == (
        result.digest,
        result.size,
        result.diff_id,
        result.tar,
    )
    assert back.entries is not None and result.entries is not None
    assert len(back.entries) == len(result.entries) > 0
    assert [back.entries.entry(i) for i in range(len(back.entries))] == [
        result.entries.entry(i) for i in range(len(result.entries))
    ]
    gone = ScanTask("x", Locator(str(layout / "nowhere"), name), "sha256", Read.LAYER, opts, 1)
    out = run_task(gone)
    assert out.scan is None and out.problem is not None
    assert out.problem.kind.value == "unreadable_blob"
    assert out.problem.message == "No such file or directory"
    span = ScanTask(
        "y", Locator(str(layout / "no.tar"), name, (0, 9)), "sha256", Read.HASH, opts, 9
    )
    assert run_task(span).problem is not None


def test_json_is_one_document_that_json_reads(bundle: Built) -> None:
    run = run_cli("verify", "--format", "json", *map(str, bundle.paths[:3]))
    assert run.code == 0
    json.loads(run.out)
