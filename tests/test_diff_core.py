"""diff on two versions of an image built here with tarfile/gzip (no external tool), in every
export format. Every expected value is computed in this file from the inputs: the merged
filesystems by applying the layer dicts, content digests with hashlib, sizes from the bytes.

Old: [base (gzip -9), app v1]. New: [base (gzip -1: the same tar recompressed), app v2, a
layer whose whiteout deletes usr/gone] for linux/amd64, and a new linux/arm64 image.
App v2 changes app/config with the same size, app/run's mode, drops app/old, adds app/new.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ocianalyze.report.units import human  # the unit format only: the value is computed here

from . import exports as ex
from .conftest import run_cli

Spec = dict[str, tuple[int, bytes] | None]  # path -> (mode, content); None: a whiteout

BASE: Spec = {
    "bin/tool": (0o755, b"#!/bin/sh\necho tool\n" * 300),
    "etc/table": (0o644, bytes(i * 7 % 251 for i in range(30000))),
    "usr/gone": (0o644, b"gone soon"),
    "usr/keep": (0o644, b"kept"),
}
APP1: Spec = {
    "app/config": (0o644, b"version=1"),
    "app/old": (0o644, b"old data"),
    "app/run": (0o755, b"run it"),
}
APP2: Spec = {
    "app/config": (0o644, b"version=2"),  # the same size, other bytes
    "app/new": (0o644, b"new file!"),
    "app/run": (0o700, b"run it"),
}
DELETE: Spec = {"usr/gone": None}


def tar_of(spec: Spec) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, value in sorted(spec.items()):
            head, _, base = name.rpartition("/")
            if value is None:
                tf.addfile(tarfile.TarInfo(f"{head}/.wh.{base}" if head else f".wh.{base}"))
                continue
            info = tarfile.TarInfo(name)
            info.mode, info.size, info.mtime = value[0], len(value[1]), ex.MTIME
            tf.addfile(info, io.BytesIO(value[1]))
    return buf.getvalue()


def merged(layers: list[Spec]) -> dict[str, tuple[int, bytes]]:
    fs: dict[str, tuple[int, bytes]] = {}
    for spec in layers:
        for name, value in spec.items():
            if value is None:
                fs.pop(name, None)
            else:
                fs[name] = value
    return fs


def expected_changes(old: list[Spec], new: list[Spec]) -> list[dict[str, Any]]:
    a, b = merged(old), merged(new)
    out = []
    for path in sorted(set(a) | set(b)):
        if path not in b:
            out.append({"path": path, "change": "removed", "what": []})
        elif path not in a:
            out.append({"path": path, "change": "added", "what": []})
        elif a[path] != b[path]:
            what = []
            if hashlib.sha256(a[path][1]).digest() != hashlib.sha256(b[path][1]).digest():
                what.append("content")
            if len(a[path][1]) != len(b[path][1]):
                what.append("size")
            if a[path][0] != b[path][0]:
                what.append("mode")
            out.append({"path": path, "change": "changed", "what": what})
    return out


@dataclass
class Image(ex.Image):
    env: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)

    def config(self) -> bytes:
        doc = json.loads(super().config())
        doc["config"] = {"Env": self.env, "Labels": self.labels, "Cmd": ["/app/run"]}
        return ex.cj(doc)


OLD_TARS = [tar_of(BASE), tar_of(APP1)]
NEW_TARS = [tar_of(BASE), tar_of(APP2), tar_of(DELETE)]
OLD = [Image(OLD_TARS, "example/app:1.0", env=["PATH=/bin", "MODE=a"], labels={"v": "1"})]
NEW = [
    Image(NEW_TARS, "example/app:2.0", env=["PATH=/bin", "MODE=b"], labels={"v": "2"}),
    Image(NEW_TARS[:2], "example/app:2.0", arch="arm64"),
]


def level(n: int) -> Any:
    return lambda t: gzip.compress(t, compresslevel=n, mtime=0)


def disk(tars: list[bytes]) -> int:
    total = 0
    for t in tars:
        with tarfile.open(fileobj=io.BytesIO(t)) as tf:
            for m in tf:
                if m.isfile() and not m.name.rpartition("/")[2].startswith(".wh."):
                    total += -(-m.size // 4096) * 4096
    return total


def write(fmt: str, images: list[Image], gz: int, root: Path) -> Path:
    """``images`` in format ``fmt``, gzip level ``gz`` for compressed formats."""
    if fmt == "oci-dir":
        return ex.to_dir(ex.oci(images, encode=level(gz)), root)  # type: ignore[arg-type]
    if fmt == "oci-archive":
        root.write_bytes(ex.to_tar(ex.oci(images, encode=level(gz))))  # type: ignore[arg-type]
    elif fmt == "docker-25":
        written = ex.oci(images, docker25=True, encode=level(gz))  # type: ignore[arg-type]
        root.write_bytes(ex.to_tar(written))
    elif fmt == "docker-legacy":
        root.write_bytes(ex.to_tar(ex.legacy(images)))  # type: ignore[arg-type]
    return root


def diff_json(old: Path, new: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    run = run_cli("diff", "--format", "json", *extra, str(old), str(new))
    assert "Traceback" not in run.err
    return run.code, json.loads(run.out), run.err


FORMATS = ["oci-dir", "oci-archive", "docker-25", "docker-legacy"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_level_in_every_format(fmt: str, tmp_path: Path) -> None:
    old = write(fmt, OLD, 9, tmp_path / "old")
    new = write(fmt, NEW, 1, tmp_path / "new")
    code, doc, err = diff_json(old, new)
    assert code == 1, err
    assert doc["schema_version"] == 1 and doc["differs"] is True
    [pair] = doc["images"]
    got = [{k: c[k] for k in ("path", "change", "what")} for c in pair["files"]["changes"]]
    assert got == expected_changes([BASE, APP1], [BASE, APP2, DELETE])
    config = next(c for c in pair["files"]["changes"] if c["path"] == "app/config")
    assert config["old"]["sha256"] == hashlib.sha256(b"version=1").hexdigest()
    assert config["new"]["sha256"] == hashlib.sha256(b"version=2").hexdigest()
    assert config["old"]["size"] == config["new"]["size"] == 9
    run = next(c for c in pair["files"]["changes"] if c["path"] == "app/run")
    assert (run["old"]["mode"], run["new"]["mode"]) == (0o755, 0o700)
    a, b = merged([BASE, APP1]), merged([BASE, APP2, DELETE])
    assert pair["files"]["unchanged"] == sum(1 for p in a.keys() & b.keys() if a[p] == b[p])
    sizes = pair["sizes"]
    assert sizes["uncompressed_size"] == {
        "old": sum(map(len, OLD_TARS)),
        "new": sum(map(len, NEW_TARS)),
        "delta": sum(map(len, NEW_TARS)) - sum(map(len, OLD_TARS)),
    }
    assert (sizes["disk_bytes"]["old"], sizes["disk_bytes"]["new"]) == (
        disk(OLD_TARS),
        disk(NEW_TARS),
    )
    fields = {c["field"]: (c["old"], c["new"]) for c in pair["config"]}
    assert fields["env.MODE"] == ("a", "b") and fields["label.v"] == ("1", "2")
    assert "env.PATH" not in fields and "cmd" not in fields
    assert fields["history"] == (["layer 0", "layer 1"], ["layer 0", "layer 1", "layer 2"])
    statuses = [layer["status"] for layer in pair["layers"]]
    base_status = "shared" if fmt == "docker-legacy" else "recompressed"  # stored uncompressed
    assert statuses == [base_status, "added", "added", "removed"]
    assert pair["layers"][0]["diff_id"] == ex.sha(OLD_TARS[0])
    assert [(a["name"], a["platform"]) for a in doc["added"]] == [
        ("example/app:2.0", "linux/arm64")
    ]
    assert doc["removed"] == []


def stored_sizes(images: list[Image], gz: int) -> dict[str, int]:
    written = ex.oci(images, encode=level(gz))  # type: ignore[arg-type]
    return {
        "sha256:" + n.rsplit("/", 1)[1]: len(d)
        for n, d in written.files.items()
        if n.startswith("blobs/")
    }


def test_sizes_and_transfer_delta_match_the_blobs(tmp_path: Path) -> None:
    old = write("oci-dir", OLD, 9, tmp_path / "old")
    new = write("oci-dir", NEW, 1, tmp_path / "new")
    _, doc, _ = diff_json(old, new)
    have, want = stored_sizes(OLD, 9), stored_sizes(NEW, 1)
    only_new = {d: s for d, s in want.items() if d not in have}
    delta = doc["delta"]
    assert {b["digest"]: b["size"] for b in delta["missing"]} == only_new
    assert delta["missing_bytes"] == sum(only_new.values())
    assert delta["bytes"] == sum(want.values()) and delta["blobs"] == len(want)
    assert delta["saved"] == round(1 - sum(only_new.values()) / sum(want.values()), 6)
    stored = doc["images"][0]["sizes"]["size"]
    layers = [gzip.compress(t, 9, mtime=0) for t in OLD_TARS]
    assert stored["old"] == sum(map(len, layers))
    # everything NEW holds, given as a digest list (bare hex, as `ls blobs/sha256` prints)
    listing = tmp_path / "held.txt"
    listing.write_text("# held\n" + "\n".join(d.split(":")[1] for d in want) + "\n")
    _, doc, _ = diff_json(old, new, "--have", str(listing))
    assert doc["delta"]["missing"] == [] and doc["delta"]["saved"] == 1.0
    # an export as --have: NEW itself
    _, doc, _ = diff_json(old, new, "--have", str(new))
    assert doc["delta"]["missing_bytes"] == 0


def test_same_result_across_formats(tmp_path: Path) -> None:
    """OLD as an OCI layout, NEW as a Docker 25 save or a legacy save: the same files."""
    old = write("oci-dir", OLD, 9, tmp_path / "old")
    results = []
    for fmt in FORMATS:
        new = write(fmt, NEW, 1, tmp_path / fmt)
        _, doc, _ = diff_json(old, new)
        results.append(doc["images"][0]["files"])
    assert all(r == results[0] for r in results)


def test_skopeo_dir_copies(tmp_path: Path) -> None:
    old = ex.to_dir(ex.skopeo_dir(OLD[0]), tmp_path / "old")
    new = ex.to_dir(ex.skopeo_dir(NEW[0]), tmp_path / "new")
    code, doc, _ = diff_json(old, new)
    assert code == 1
    changes = doc["images"][0]["files"]["changes"]
    got = [{k: c[k] for k in ("path", "change", "what")} for c in changes]
    assert got == expected_changes([BASE, APP1], [BASE, APP2, DELETE])


def test_no_difference_exits_0_even_across_formats(tmp_path: Path) -> None:
    old = write("oci-dir", OLD, 9, tmp_path / "old")
    new = write("oci-archive", OLD, 9, tmp_path / "new")
    run = run_cli("diff", str(old), str(new))
    assert run.code == 0, run.err
    assert run.out.splitlines()[-1].startswith("summary: no differences")
    assert run.out.splitlines()[-1].endswith("send 0.0 B")
    code, doc, _ = diff_json(old, new)
    assert code == 0 and doc["differs"] is False and doc["delta"]["missing"] == []
    [pair] = doc["images"]
    assert pair["files"] is None and "the same layers" in pair["files_note"]
    assert {layer["status"] for layer in pair["layers"]} == {"shared"}


def test_text_fits_100_columns_and_names_the_same_size_change(tmp_path: Path) -> None:
    old = write("oci-dir", OLD, 9, tmp_path / "old")
    new = write("oci-dir", NEW, 1, tmp_path / "new")
    run = run_cli("diff", "--top", "3", str(old), str(new))
    have, want = stored_sizes(OLD, 9), stored_sizes(NEW, 1)
    assert run.code == 1
    lines = run.out.splitlines()
    assert max(map(len, lines)) <= 100
    assert lines[-1] == (
        "summary: differences; images: 1 changed, 0 same, 1 added, 0 removed; "
        f"files: +1 -2 ~2; send {human(sum(v for d, v in want.items() if d not in have))}"
    )
    assert "transfer: " in run.out
    full = run_cli("diff", "--top", "10", str(old), str(new)).out
    assert "~ app/config  (content; 9 B)" in full
    assert "… 2 more" in run.out  # five changes, three shown


def test_unreadable_input_exits_2(tmp_path: Path) -> None:
    old = write("oci-dir", OLD, 9, tmp_path / "old")
    junk = tmp_path / "junk"
    junk.write_bytes(b"\x00" * 10)
    for args in ((str(old), str(junk)), (str(tmp_path / "absent"), str(old))):
        run = run_cli("diff", *args)
        assert run.code == 2 and run.err.count("\n") == 1 and "Traceback" not in run.err
    bad_list = tmp_path / "list.txt"
    bad_list.write_text("sha256:zz\n")
    run = run_cli("diff", "--have", str(bad_list), str(old), str(old))
    assert run.code == 2 and "line 1: not a digest" in run.err


def test_a_corrupt_side_is_reported_and_fails(tmp_path: Path) -> None:
    old = write("oci-dir", OLD, 9, tmp_path / "old")
    new = write("oci-dir", OLD, 9, tmp_path / "new")
    blob = max((new / "blobs/sha256").iterdir(), key=lambda p: p.stat().st_size)
    blob.write_bytes(ex.flip(blob.read_bytes()))
    run = run_cli("diff", str(old), str(new))
    assert run.code == 1
    assert "digest_mismatch" in run.err


def test_names_from_the_export_are_escaped_in_text_and_markdown(tmp_path: Path) -> None:
    evil = "app/evil\n\x1b[2Jname\u202e"
    old = write("oci-dir", [Image([tar_of(BASE)], "example/app:1.0")], 9, tmp_path / "old")
    tars = [tar_of(BASE), tar_of({evil: (0o644, b"x")})]
    new = write("oci-dir", [Image(tars, "example/app:2.0")], 9, tmp_path / "new")
    _, doc, _ = diff_json(old, new)
    assert [c["path"] for c in doc["images"][0]["files"]["changes"]] == [evil]
    shown = {  # ls --quoting-style=escape; markdown also escapes its own \\ and [
        "text": "+ app/evil\\n\\033[2Jname\\342\\200\\256  (file, 1 B)",
        "markdown": "| app/evil\\\\n\\\\033\\[2Jname\\\\342\\\\200\\\\256 | added |",
    }
    for fmt, line in shown.items():
        run = run_cli("diff", "--format", fmt, str(old), str(new))
        assert run.code == 1 and "\x1b" not in run.out and "\u202e" not in run.out
        assert line in run.out, run.out
    markdown = run_cli("diff", "--format", "markdown", str(old), str(new)).out
    assert markdown.startswith("# Changes from ") and "| path | change | what | size |" in markdown
