"""Waste, merged filesystem, footprint and file listings, against a naive reference model."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocianalyze.entries import EntryTable
from ocianalyze.merge import merge, merged_entries
from ocianalyze.tarwalk import TarEntry

from .conftest import SAMPLES, run_cli
from .independent import blob, decompress, layer_truth, oci_manifests


def naive_overlay(layers: list[list[tuple[str, str, int]]]) -> tuple[dict[str, int], int]:
    """Apply layers of (path, kind, size) the slow obvious way; return merged files and waste."""
    fs: dict[str, tuple[str, int]] = {}
    wasted = 0
    for layer in layers:
        for path, _, _ in layer:
            base = path.rsplit("/", 1)[-1]
            parent = path.rsplit("/", 1)[0] if "/" in path else ""
            if base == ".wh..wh..opq":
                doomed = [p for p in fs if parent == "" or p.startswith(parent + "/")]
            elif base.startswith(".wh."):
                target = (parent + "/" if parent else "") + base[4:]
                doomed = [p for p in fs if p == target or p.startswith(target + "/")]
            else:
                continue
            for p in doomed:
                kind, size = fs.pop(p)
                wasted += size if kind == "file" else 0
        seen: set[str] = set()
        for path, kind, size in layer:
            if path.rsplit("/", 1)[-1].startswith(".wh."):
                continue
            if path in fs and path not in seen and fs[path][0] == "file":
                wasted += fs[path][1]
            if kind != "dir":  # containerd: only a directory over a directory merges
                for p in [p for p in fs if p.startswith(path + "/") and p not in seen]:
                    kind_p, size_p = fs.pop(p)
                    wasted += size_p if kind_p == "file" else 0
            fs[path] = (kind, size)
            seen.add(path)
    return {p: s for p, (k, s) in fs.items() if k == "file"}, wasted


def table(rows: list[tuple[str, str, int]]) -> EntryTable:
    t = EntryTable()
    for path, kind, size in rows:
        t.add(TarEntry(path, kind, size, 0o644, 0, 0, 0.0, "", path))
    return t


def _tar_rows(data: bytes) -> list[tuple[str, str, int]]:
    rows = []
    with tarfile.open(fileobj=io.BytesIO(decompress(data))) as tf:
        for m in tf:
            kind = (
                "file"
                if m.isreg()
                else "dir"
                if m.isdir()
                else "symlink"
                if m.issym()
                else ("hardlink" if m.islnk() else "other")
            )
            rows.append((m.name.removeprefix("./").rstrip("/"), kind, m.size if m.isreg() else 0))
    return rows


def test_sample_waste_matches_naive_overlay() -> None:
    layout = SAMPLES / "oci-layout"
    _, manifest = oci_manifests(layout)[0]
    layers = [_tar_rows(blob(layout, d["digest"])) for d in manifest["layers"]]
    files, wasted = naive_overlay(layers)
    run = run_cli("report", "--format", "json", str(layout))
    waste = run.json()["images"][0]["waste"]
    assert waste["wasted_bytes"] == wasted
    assert waste["merged_files"] == len(files)
    assert waste["merged_file_bytes"] == sum(files.values())
    hidden = {w["path"]: w["how"] for w in waste["largest_wasters"]}
    assert hidden["etc/motd"] == "deleted"  # the whiteout in layer 3
    assert hidden["etc/os-release"] == "overwritten"  # layer 2 rewrites it
    assert hidden["var/lib/dpkg/available"] == "deleted"  # the opaque var/lib
    shipped = sum(s for layer in layers for _, k, s in layer if k == "file")
    assert abs(waste["efficiency"] - (1 - wasted / shipped)) < 1e-6


def test_n_copies_waste_n_minus_one() -> None:
    layers = [[("a", "file", 100)], [("a", "file", 200)], [("a", "file", 300)]]
    result = merge([table(rows) for rows in layers])
    assert result.wasted_bytes == 300  # the first two copies, not all three
    (w,) = result.wasted
    assert (w.copies, w.layer, w.by_layer, w.how) == (2, 0, 2, "overwritten")
    assert result.file_bytes == 300


def test_whiteout_over_nothing_is_noted_not_fatal() -> None:
    result = merge([table([("a", "file", 1)]), table([("x/.wh.ghost", "file", 0)])])
    assert result.dangling_whiteouts == ((1, "x/ghost"),)
    assert result.files == 1 and result.wasted_bytes == 0


def test_hardlinks_carry_no_bytes() -> None:
    result = merge([table([("a", "file", 10), ("b", "hardlink", 0)]), table([("b", "file", 5)])])
    assert result.wasted_bytes == 0 and result.file_bytes == 15


paths = st.sampled_from(["a", "b", "d", "d/x", "d/y", "d/e", "d/e/z", "f"])
rows = st.lists(
    st.tuples(paths, st.sampled_from(["file", "dir"]), st.integers(0, 5000)),
    max_size=6,
    unique_by=lambda r: r[0],
)
whiteouts = st.lists(
    st.sampled_from(
        [".wh.a", "d/.wh.x", "d/.wh.e", ".wh.d", "d/.wh..wh..opq", "d/e/.wh..wh..opq", ".wh.ghost"]
    ),
    max_size=2,
    unique=True,
)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.lists(st.tuples(rows, whiteouts), min_size=1, max_size=4))
def test_property_merge_equals_naive_overlay(stack: list[tuple[list, list]]) -> None:
    layers = [[*[(w, "file", 0) for w in wh], *files] for files, wh in stack]
    want_files, want_waste = naive_overlay(layers)
    result = merge([table(rows) for rows in layers])
    assert result.wasted_bytes == want_waste
    assert (result.files, result.file_bytes) == (len(want_files), sum(want_files.values()))
    tables = [table(rows) for rows in layers]
    listed = {tables[n].name(i) for n, i in merged_entries(tables) if tables[n].kind(i) == "file"}
    assert listed == set(want_files)


def test_footprint_shares_the_base_layer_between_platforms() -> None:
    layout = SAMPLES / "multi-platform"
    manifests = dict(oci_manifests(layout))
    by_arch = {}
    for _, m in manifests.items():
        config = json.loads(blob(layout, m["config"]["digest"]))
        arch = "/".join(
            x for x in (config["os"], config["architecture"], config.get("variant")) if x
        )
        by_arch[arch] = [layer_truth(blob(layout, d["digest"])) for d in m["layers"]]
    base = {t.digest for t in next(iter(by_arch.values()))}.intersection(
        *({t.digest for t in v} for v in by_arch.values())
    )
    run = run_cli("footprint", "--format", "json", str(layout))
    assert run.code == 0, run.err
    doc = run.json()
    got = {p["platform"]: p for p in doc["platforms"]}
    assert set(got) == set(by_arch) == {"linux/amd64", "linux/arm64/v8"}
    for arch, truths in by_arch.items():
        p = got[arch]
        assert p["disk_bytes"] == sum(t.disk_bytes for t in truths)
        assert p["shared_disk_bytes"] == sum(t.disk_bytes for t in truths if t.digest in base)
        assert p["unique_disk_bytes"] == sum(t.disk_bytes for t in truths if t.digest not in base)
        assert p["size"] == sum(t.size for t in truths)
        assert p["uncompressed_size"] == sum(t.uncompressed_size for t in truths)
    distinct = {t.digest: t for v in by_arch.values() for t in v}
    assert doc["bundle"]["disk_bytes"] == sum(t.disk_bytes for t in distinct.values())
    blobs = {p.name: p.stat().st_size for p in (layout / "blobs" / "sha256").iterdir()}
    top_index = json.loads((layout / "index.json").read_text())["manifests"][0]["digest"]
    assert doc["bundle"]["size"] == sum(s for n, s in blobs.items() if n != top_index[7:])


def test_footprint_lists_only_real_platforms() -> None:
    run = run_cli(
        "footprint", "--format", "json", str(SAMPLES / "attestations"), str(SAMPLES / "partial")
    )
    assert run.code == 0, run.err
    doc = run.json()
    assert sorted(p["platform"] for p in doc["platforms"]) == [
        "linux/amd64",
        "linux/arm64",
        "linux/arm64/v8",
    ]
    assert sorted(o["kind"] for o in doc["others"]) == [
        "artifact",
        "attestation",
        "attestation",
        "signature",
    ]


def test_files_lists_a_layer_and_the_merged_tree(tmp_path: Path) -> None:
    layout = SAMPLES / "oci-layout"
    _, manifest = oci_manifests(layout)[0]
    layers = [_tar_rows(blob(layout, d["digest"])) for d in manifest["layers"]]
    second = run_cli("files", "--format", "json", "--layer", "2", str(layout))
    assert second.code == 0, second.err
    assert [(e["path"], e["type"], e["size"]) for e in second.json()["entries"]] == layers[1]
    merged = run_cli("files", "--format", "json", str(layout)).json()["entries"]
    files, _ = naive_overlay(layers)
    assert {e["path"]: e["size"] for e in merged if e["type"] == "file"} == files
    text = run_cli("files", str(layout)).out
    assert "usr/bin/sh -> busybox" in text and "link to usr/bin/tool" in text


def test_files_needs_a_choice_among_several_images() -> None:
    run = run_cli("files", str(SAMPLES / "multi-platform"))
    assert run.code == 2 and "--image" in run.err
    ok = run_cli(
        "files", "--image", "linux/arm64/v8", "--layer", "1", str(SAMPLES / "multi-platform")
    )
    assert ok.code == 0 and ok.out


def test_a_batch_is_listed_as_entries_one_by_one() -> None:
    entries = [
        TarEntry("a", "file", 5, 0o644, 1, 2, 3.5, "", "a"),
        TarEntry("l", "symlink", 0, 0o777, 0, 0, 4, "a", "l"),
        TarEntry("h", "hardlink", 0, 0o644, 0, 0, 5, "a", "h"),
        TarEntry("d", "dir", 0, 0o755, 0, 0, 6, "", "d/"),
        TarEntry("w", "weird", 0, 0o600, 0, 0, 7, "", "w"),
    ]
    one, batch = EntryTable(), EntryTable()
    batch.add_all(entries[:2])
    batch.add_all(entries[2:])
    for e in entries:
        one.add(e)
    assert [one.entry(i) for i in range(len(one))] == [batch.entry(i) for i in range(len(batch))]
    assert batch.links == {1: "a", 2: "a"} and batch.kind(4) == "other"


def _tar(members: list[tuple[str, int]], fmt: int) -> bytes:
    """One empty file per (name, mtime). GNU format writes base-256 numbers where octal
    cannot hold them (past 8**11), PAX an mtime record (negative times): Go's archive/tar
    reads both."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for name, mtime in members:
            info = tarfile.TarInfo(name)
            info.mtime = mtime
            tf.addfile(info)
    return buf.getvalue()


def test_files_prints_and_serialises_any_time(tmp_path: Path) -> None:
    from .builders import build_layout

    base256 = {"future": 256**7 - 1, "now": 1_700_000_000}
    pax = {"past": -(10**12), "epoch-1": -1}
    layers = [
        _tar(list(base256.items()), tarfile.GNU_FORMAT),
        _tar(list(pax.items()), tarfile.PAX_FORMAT),
    ]
    build_layout(tmp_path, layers, media_type="application/vnd.oci.image.layer.v1.tar")
    run = run_cli("files", "--format", "json", str(tmp_path))
    assert run.code == 0, run.err
    doc = json.loads(run.out, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert {e["path"]: e["mtime"] for e in doc["entries"]} == base256 | pax
    text = run_cli("files", str(tmp_path))
    assert text.code == 0, text.err
    dates = {line.split()[-1]: " ".join(line.split()[-3:-1]) for line in text.out.splitlines()}
    assert dates["now"] == "2023-11-14 22:13" and dates["epoch-1"] == "1969-12-31 23:59"
    # years from seconds / 31556952 (the mean Gregorian year): 2283416224.9 and -29718.7
    assert dates["future"].startswith("2283416224-") and dates["past"].startswith("-29719-")


@pytest.mark.parametrize(
    ("mtime", "seconds", "text"),
    [
        (0, 0, "1970-01-01 00:00"),
        (951_825_600, 951_825_600, "2000-02-29 12:00"),  # a leap day
        (253_402_300_799, 253_402_300_799, "9999-12-31 23:59"),
        (253_402_300_800, 253_402_300_800, "10000-01-01 00:00"),  # past datetime's range
        (-62_135_596_800, -62_135_596_800, "0001-01-01 00:00"),
        (1.9, 1, "1970-01-01 00:00"),
        (-0.5, -1, "1969-12-31 23:59"),
        (float("nan"), None, "????-??-?? ??:??"),
        (float("inf"), None, "????-??-?? ??:??"),
    ],
)
def test_times_as_seconds_and_dates(mtime: float, seconds: int | None, text: str) -> None:
    from ocianalyze.report.files import seconds as to_seconds
    from ocianalyze.report.files import when

    assert to_seconds(mtime) == seconds
    assert when(mtime) == text


def test_json_chunks_are_the_document_json_dumps_writes() -> None:
    from ocianalyze.report.files import files_doc, files_json_chunks

    entries = [
        TarEntry("a\x01\udcff", "file", 5, 0o104755, 1, 2, 7, "", "a"),
        TarEntry("l", "hardlink", 0, 0o644, 0, 0, float("nan"), "a\n", "l"),
    ] * 1500  # more than one chunk
    for n in (0, 1, len(entries)):
        got = "".join(files_json_chunks("img\n", None if n else 3, entries[:n]))
        assert got == json.dumps(files_doc("img\n", None if n else 3, entries[:n]), indent=2) + "\n"
