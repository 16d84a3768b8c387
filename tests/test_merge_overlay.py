"""Overlay semantics of the merge (containerd's applier): hardlinks share an inode, bad
hardlinks are problems, a non-directory replaces a lower subtree; and deep paths stay cheap."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from ocianalyze.entries import EntryTable
from ocianalyze.errors import Kind
from ocianalyze.merge import merge, merged_files
from ocianalyze.tarwalk import TarEntry

from .builders import build_layout
from .conftest import run_cli

TAR = "application/vnd.oci.image.layer.v1.tar"
BLOCK = 4096


def table(rows: list[tuple[str, str, int, str]]) -> EntryTable:
    """rows: (path, kind, size, hardlink or symlink target)."""
    t = EntryTable()
    for path, kind, size, link in rows:
        t.add(TarEntry(path, kind, size, 0o644, 0, 0, 0, link, path))
    return t


def listing(layers: list[list[tuple[str, str, int, str]]]) -> dict[str, tuple[str, int, str]]:
    return {e.name: (e.type, e.size, e.linkname) for e in merged_files([table(r) for r in layers])}


def disk(*sizes: int) -> int:
    return sum(-(-s // BLOCK) * BLOCK for s in sizes)


def layer_tar(members: list[tuple[str, bytes | str | None]]) -> bytes:
    """members: (name, bytes) a file, (name, "->target") a hardlink, (name, None) a whiteout
    or other empty file."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if isinstance(data, str):
                info.type, info.linkname = tarfile.LNKTYPE, data.removeprefix("->")
                tf.addfile(info)
            else:
                info.size = len(data or b"")
                tf.addfile(info, io.BytesIO(data or b""))
    return buf.getvalue()


def test_k3_hardlink_keeps_the_data_its_whited_out_target_had(tmp_path: Path) -> None:
    """Layer 1: LINK-A (6000 B), LINK-Z hardlinked to it, other (100 B); layer 2 whites out
    LINK-A. Overlay keeps the inode: LINK-Z is a 6000-byte file and nothing is wasted."""
    one = layer_tar([("LINK-A", b"a" * 6000), ("LINK-Z", "->LINK-A"), ("other", b"o" * 100)])
    two = layer_tar([(".wh.LINK-A", None)])
    build_layout(tmp_path, [one, two], media_type=TAR)
    report = run_cli("report", "--format", "json", str(tmp_path), timeout=60)
    assert report.code == 0, report.err
    waste = report.json()["images"][0]["waste"]
    assert waste["merged_files"] == 2
    assert waste["merged_file_bytes"] == 6000 + 100
    assert waste["merged_disk_bytes"] == disk(6000, 100) == 12288
    assert waste["wasted_bytes"] == 0
    files = run_cli("files", "--format", "json", str(tmp_path), timeout=60)
    assert files.code == 0, files.err
    entries = {e["path"]: e for e in json.loads(files.out)["entries"]}
    assert set(entries) == {"LINK-Z", "other"}
    assert (entries["LINK-Z"]["type"], entries["LINK-Z"]["size"]) == ("file", 6000)


def test_replacing_the_target_keeps_the_old_data_under_the_link() -> None:
    layers = [[("a", "file", 10, ""), ("z", "hardlink", 0, "a")], [("a", "file", 5, "")]]
    result = merge([table(r) for r in layers])
    assert (result.files, result.file_bytes, result.wasted_bytes) == (2, 15, 0)
    assert listing(layers) == {"a": ("file", 5, ""), "z": ("file", 10, "")}


def test_data_is_wasted_once_when_every_name_is_gone() -> None:
    layers = [
        [("a", "file", 10, ""), ("z", "hardlink", 0, "a"), ("y", "hardlink", 0, "./z")],
        [(".wh.a", "file", 0, ""), (".wh.z", "file", 0, ""), (".wh.y", "file", 0, "")],
    ]
    result = merge([table(r) for r in layers])
    assert (result.files, result.wasted_bytes, result.wasted_by_layer) == (0, 10, (10, 0))
    assert result.dangling_whiteouts == () and result.problems == ()


def test_surviving_names_list_one_file_and_links_to_it() -> None:
    layers = [
        [("a", "file", 7, ""), ("y", "hardlink", 0, "a"), ("z", "hardlink", 0, "/a")],
        [(".wh.a", "file", 0, "")],
    ]
    assert listing(layers) == {"y": ("file", 7, ""), "z": ("hardlink", 0, "y")}
    result = merge([table(r) for r in layers])
    assert (result.files, result.file_bytes, result.disk_bytes) == (1, 7, disk(7))
    both = [[("a", "file", 7, ""), ("z", "hardlink", 0, "a")]]
    assert listing(both) == {"a": ("file", 7, ""), "z": ("hardlink", 0, "a")}
    assert merge([table(r) for r in both]).files == 1  # a hardlink carries no bytes


def test_bad_hardlinks_are_problems_not_files() -> None:
    layers = [
        [
            ("d", "dir", 0, ""),
            ("self", "hardlink", 0, "self"),
            ("early", "hardlink", 0, "late"),  # its target comes later in the layer
            ("late", "file", 3, ""),
            ("todir", "hardlink", 0, "d"),
            ("nowhere", "hardlink", 0, "missing"),
            ("out", "hardlink", 0, "../../etc/shadow"),
        ],
        [(".wh.late", "file", 0, ""), ("gone", "hardlink", 0, "late")],
    ]
    result = merge([table(r) for r in layers], digests=["sha256:aa", "sha256:bb"])
    problems = {(p.kind, p.digest, p.message.split("'")[1]) for p in result.problems}
    assert problems == {
        (Kind.BAD_HARDLINK, "sha256:aa", name)
        for name in ("self", "early", "todir", "nowhere", "out")
    } | {(Kind.BAD_HARDLINK, "sha256:bb", "gone")}
    assert listing(layers) == {"d": ("dir", 0, "")}
    assert (result.files, result.wasted_bytes) == (0, 3)


def test_a_bad_hardlink_leaves_the_lower_file_in_place() -> None:
    layers = [[("a", "file", 4, "")], [("a", "hardlink", 0, "a")]]
    result = merge([table(r) for r in layers])
    assert [p.kind for p in result.problems] == [Kind.BAD_HARDLINK]
    assert listing(layers) == {"a": ("file", 4, "")} and result.wasted_bytes == 0


def test_a_file_replaces_the_lower_directory_and_its_subtree() -> None:
    layers = [
        [("d", "dir", 0, ""), ("d/x", "file", 7, ""), ("d-y", "file", 2, "")],
        [("d", "file", 1, "")],
    ]
    result = merge([table(r) for r in layers])
    assert listing(layers) == {"d": ("file", 1, ""), "d-y": ("file", 2, "")}
    assert (result.files, result.file_bytes, result.wasted_bytes) == (2, 3, 7)
    (w,) = result.wasted
    assert (w.path, w.how, w.layer, w.by_layer) == ("d/x", "overwritten", 0, 1)


def test_a_directory_over_a_directory_merges() -> None:
    layers = [
        [("d", "dir", 0, ""), ("d/x", "file", 7, "")],
        [("d", "dir", 0, ""), ("d/y", "file", 1, "")],
    ]
    assert listing(layers) == {"d": ("dir", 0, ""), "d/x": ("file", 7, ""), "d/y": ("file", 1, "")}


def test_a_whiteout_of_a_directory_without_its_own_entry_is_not_dangling() -> None:
    layers = [[("d/x", "file", 7, "")], [(".wh.d", "file", 0, ""), (".wh.nothing", "file", 0, "")]]
    result = merge([table(r) for r in layers])
    assert result.dangling_whiteouts == ((1, "nothing"),)
    assert (result.files, result.wasted_bytes) == (0, 7)


def test_g12_deep_paths_and_a_whiteout_finish_quickly(tmp_path: Path) -> None:
    """4 entries 500,000 directories deep and a whiteout layer: the merge used to walk every
    ancestor of every path for each whiteout (quadratic in depth)."""
    deep = "/".join(["d"] * 500_000)
    one = layer_tar([(f"{deep}/f{i}", b"x") for i in range(4)])
    two = layer_tar([(".wh.zzz", None)])
    build_layout(tmp_path, [one, two], media_type=TAR)
    report = run_cli("report", "--format", "json", str(tmp_path), timeout=10)
    assert report.code == 0, report.err
    waste = report.json()["images"][0]["waste"]
    assert (waste["merged_files"], waste["merged_file_bytes"]) == (4, 4)
    assert waste["dangling_whiteouts"] == [{"layer": 1, "path": "zzz"}]
    files = run_cli("files", str(tmp_path), timeout=10)
    assert files.code == 0, files.err
    assert [line.rsplit("/", 1)[-1] for line in files.out.splitlines()] == [
        f"f{i}" for i in range(4)
    ]


def test_unclean_names_are_the_path_the_runtime_writes(tmp_path: Path) -> None:
    """Docker and containerd clean each name (Go's filepath.Clean) before joining it to the
    root: "app//y", "./app/./y" and "app/x/../y" all overwrite "app/y", and "app/./.wh.z"
    whites out "app/z". So the merged view has one "app/y" (the top layer's 300 bytes), the
    two lower copies are wasted, and "app/z" is gone."""
    one = layer_tar([("app/y", b"1" * 100), ("app/z", b"z" * 50)])
    two = layer_tar([("app//y", b"2" * 200), ("./app/./.wh.z", None)])
    three = layer_tar([("app/x/../y", b"3" * 300)])
    build_layout(tmp_path, [one, two, three], media_type=TAR)
    report = run_cli("report", "--format", "json", str(tmp_path), timeout=60)
    assert report.code == 0, report.err
    waste = report.json()["images"][0]["waste"]
    assert (waste["merged_files"], waste["merged_file_bytes"]) == (1, 300)
    assert waste["wasted_bytes"] == 100 + 200 + 50
    files = run_cli("files", "--format", "json", str(tmp_path), timeout=60)
    entries = {e["path"]: e for e in json.loads(files.out)["entries"]}
    assert set(entries) == {"app/y"}
    assert entries["app/y"]["size"] == 300
