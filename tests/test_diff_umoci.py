"""diff on two versions of an image built with umoci, in every container format.

umoci writes the layers (init, new, unpack, edit the rootfs, repack); the test then stores
v2's base layer recompressed with gzip -1 (the same diff_id under another digest) and adds a
linux/arm64 image to NEW. Every expected value is computed here from the blobs umoci wrote:
the merged filesystems by applying their tars with tarfile (whiteouts included), contents with
hashlib, the transfer delta with ``comm`` over ``ls blobs/sha256``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from . import exports as ex
from .conftest import run_cli

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("umoci") is None, reason="needs umoci on PATH"),
]

State = tuple[str, int, int, int, int, str, str | None]  # type size mode uid gid link sha256


def tool(*argv: str | Path, cwd: Path | None = None) -> str:
    proc = subprocess.run(
        [str(a) for a in argv], capture_output=True, timeout=60, check=False, cwd=cwd
    )
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(map(str, argv))} exited {proc.returncode}: {proc.stderr.decode()}")
    return proc.stdout.decode()


def blob(layout: Path, digest: str) -> bytes:
    return (layout / "blobs" / "sha256" / digest.split(":")[1]).read_bytes()


def put(layout: Path, data: bytes) -> dict[str, Any]:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": "sha256:" + digest, "size": len(data)}


def manifest_of(layout: Path, tag: str) -> dict[str, Any]:
    index = json.loads((layout / "index.json").read_text())
    desc = next(
        m
        for m in index["manifests"]
        if m["annotations"]["org.opencontainers.image.ref.name"] == tag
    )
    return json.loads(blob(layout, desc["digest"]))


def build_versions(work: Path) -> Path:
    """An OCI layout written by umoci holding ``base``, then ``v1`` and ``v2`` on top of it."""
    layout = work / "layout"
    tool("umoci", "init", "--layout", layout)
    tool("umoci", "new", "--image", f"{layout}:base")
    b0 = work / "b0"
    tool("umoci", "unpack", "--rootless", "--image", f"{layout}:base", b0)
    root = b0 / "rootfs"
    for rel, data, mode in (
        ("bin/tool", b"#!/bin/sh\necho tool\n" * 300, 0o755),
        ("etc/table", bytes(i * 7 % 251 for i in range(30000)), 0o644),
        ("usr/gone", b"gone soon", 0o644),
        ("usr/keep", b"kept", 0o644),
    ):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
        (root / rel).chmod(mode)
    tool("umoci", "repack", "--image", f"{layout}:base", b0)
    for tag, edit in (("v1", _edit_v1), ("v2", _edit_v2)):
        bundle = work / tag
        tool("umoci", "unpack", "--rootless", "--image", f"{layout}:base", bundle)
        edit(bundle / "rootfs")
        tool("umoci", "repack", "--image", f"{layout}:{tag}", bundle)
    return layout


def build(work: Path) -> tuple[Path, Path]:
    """OLD (v1) and NEW (v2 amd64 + arm64) as OCI layouts written by umoci."""
    layout = build_versions(work)
    tool("umoci", "config", "--image", f"{layout}:v1", "--config.env", "MODE=a")
    tool("umoci", "config", "--image", f"{layout}:v2", "--config.env", "MODE=b")
    tool("umoci", "gc", "--layout", layout)
    return _split(layout, work)


def _edit_v1(root: Path) -> None:
    (root / "app").mkdir()
    (root / "app/config").write_bytes(b"version=1")
    (root / "app/old").write_bytes(b"old data")


def _edit_v2(root: Path) -> None:
    (root / "app").mkdir()
    (root / "app/config").write_bytes(b"version=2")  # the same size as v1's
    (root / "app/new").write_bytes(b"new file!")
    (root / "bin/tool").chmod(0o700)
    (root / "usr/gone").unlink()  # umoci writes a whiteout


def _split(layout: Path, work: Path) -> tuple[Path, Path]:
    """Two layouts: OLD holds v1; NEW holds v2 with its base layer recompressed (gzip -1)
    and the same image for linux/arm64."""
    old, new = work / "old", work / "new"
    shutil.copytree(layout, old)
    shutil.copytree(layout, new)
    index = json.loads((layout / "index.json").read_text())
    ref = "org.opencontainers.image.ref.name"
    keep = [m for m in index["manifests"] if m["annotations"][ref] == "v1"]
    (old / "index.json").write_text(json.dumps({**index, "manifests": keep}))
    v2 = manifest_of(layout, "v2")
    base = v2["layers"][0]
    recompressed = gzip.compress(gzip.decompress(blob(layout, base["digest"])), 1, mtime=0)
    v2["layers"][0] = {**base, **put(new, recompressed)}
    assert v2["layers"][0]["digest"] != base["digest"]
    manifests = []
    original = blob(layout, v2["config"]["digest"])
    for arch in ("amd64", "arm64"):
        config = json.loads(original)
        config["architecture"] = arch
        v2["config"] = {**v2["config"], **put(new, json.dumps(config).encode())}
        desc = {"mediaType": ex.OCI_MANIFEST, **put(new, json.dumps(v2).encode())}
        desc["annotations"] = {ref: "v2"}
        desc["platform"] = {"os": "linux", "architecture": arch}
        manifests.append(desc)
    (new / "index.json").write_text(json.dumps({**index, "manifests": manifests}))
    tool("umoci", "gc", "--layout", new)
    tool("umoci", "gc", "--layout", old)
    return old, new


# ------------------------------------------------------------------ the independent truth


def layer_tars(layout: Path, manifest: dict[str, Any]) -> list[bytes]:
    return [gzip.decompress(blob(layout, layer["digest"])) for layer in manifest["layers"]]


def apply(tars: list[bytes]) -> dict[str, State]:
    fs: dict[str, State] = {}
    for data in tars:
        with tarfile.open(fileobj=io.BytesIO(data)) as tf:
            for m in tf:
                name = m.name.removeprefix("./").rstrip("/")
                head, _, base = name.rpartition("/")
                if base == ".wh..wh..opq":
                    fs = {k: v for k, v in fs.items() if not k.startswith(head + "/")}
                    continue
                if base.startswith(".wh."):
                    gone = f"{head}/{base[4:]}" if head else base[4:]
                    fs = {k: v for k, v in fs.items() if k != gone and not k.startswith(gone + "/")}
                    continue
                sha = None
                if m.isreg():
                    f = tf.extractfile(m)
                    assert f is not None
                    sha = hashlib.sha256(f.read()).hexdigest()
                kind = "file" if m.isreg() else "dir" if m.isdir() else "symlink"
                size = m.size if m.isreg() else 0
                fs[name] = (kind, size, m.mode & 0o7777, m.uid, m.gid, m.linkname, sha)
    return fs


def expected_changes(
    old: dict[str, State], new: dict[str, State]
) -> list[tuple[str, str, list[str]]]:
    out = []
    for path in sorted(set(old) | set(new), key=lambda p: p.replace("/", "\0")):
        if path not in new:
            out.append((path, "removed", []))
        elif path not in old:
            out.append((path, "added", []))
        else:
            a, b = old[path], new[path]
            what = [
                name
                for name, differs in (
                    ("type", a[0] != b[0]),
                    ("content", a[0] == b[0] == "file" and a[6] != b[6]),
                    ("size", a[0] == b[0] == "file" and a[1] != b[1]),
                    ("mode", a[2] != b[2]),
                    ("owner", a[3:5] != b[3:5]),
                    ("link", a[5] != b[5]),
                )
                if differs
            ]
            if what:
                out.append((path, "changed", what))
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build(tmp_path_factory.mktemp("umoci"))


def convert(fmt: str, layout: Path, out: Path) -> Path:
    """``layout`` in container format ``fmt``."""
    if fmt == "oci-dir":
        return layout
    if fmt == "oci-archive":
        with tarfile.open(out, "w") as tf:
            for p in sorted(layout.rglob("*")):
                tf.add(p, str(p.relative_to(layout)), recursive=False)
        return out
    index = json.loads((layout / "index.json").read_text())
    images = []
    for desc in index["manifests"]:
        manifest = json.loads(blob(layout, desc["digest"]))
        arch = json.loads(blob(layout, manifest["config"]["digest"]))["architecture"]
        images.append(ex.Image(layer_tars(layout, manifest), "example/app:1", arch=arch))
    written = ex.legacy(images) if fmt == "docker-legacy" else ex.oci(images, docker25=True)
    out.write_bytes(ex.to_tar(written))
    return out


def diff_doc(old: Path, new: Path) -> tuple[int, dict[str, Any]]:
    run = run_cli("diff", "--format", "json", str(old), str(new))
    assert "Traceback" not in run.err and run.code in (0, 1), run.err
    return run.code, json.loads(run.out)


def truth(old: Path, new: Path) -> list[tuple[str, str, list[str]]]:
    return expected_changes(
        apply(layer_tars(old, manifest_of(old, "v1"))),
        apply(layer_tars(new, manifest_of(new, "v2"))),
    )


FORMATS = ["oci-dir", "oci-archive", "docker-25", "docker-legacy"]


def test_oci_layouts_every_level(built: tuple[Path, Path]) -> None:
    old, new = built
    code, doc = diff_doc(old, new)
    assert code == 1
    [pair] = doc["images"]
    got = [(c["path"], c["change"], c["what"]) for c in pair["files"]["changes"]]
    expected = truth(old, new)
    assert got == expected
    # the cases this test was built for, named, so a wrong oracle cannot hide them
    assert ("app/config", "changed", ["content"]) in got  # the same size, other bytes
    assert ("bin/tool", "changed", ["mode"]) in got
    assert ("app/old", "removed", []) in got  # not in NEW's layers at all
    assert ("usr/gone", "removed", []) in got  # hidden by a whiteout
    assert [layer["status"] for layer in pair["layers"]] == ["recompressed", "added", "removed"]
    assert {(a["name"], a["platform"]) for a in doc["added"]} == {("v2", "linux/arm64")}
    fields = {c["field"]: (c["old"], c["new"]) for c in pair["config"]}
    assert fields["env.MODE"] == ("a", "b")
    old_tars = layer_tars(old, manifest_of(old, "v1"))
    new_tars = layer_tars(new, manifest_of(new, "v2"))
    assert pair["sizes"]["uncompressed_size"]["delta"] == sum(map(len, new_tars)) - sum(
        map(len, old_tars)
    )


def test_transfer_delta_equals_comm_over_the_blobs(built: tuple[Path, Path]) -> None:
    old, new = built
    only_new = tool(
        "bash",
        "-c",
        "comm -13 <(ls old/blobs/sha256 | sort) <(ls new/blobs/sha256 | sort)",
        cwd=old.parent,
    ).split()
    expected = sum((new / "blobs" / "sha256" / h).stat().st_size for h in only_new)
    _, doc = diff_doc(old, new)
    assert doc["delta"]["missing_bytes"] == expected
    assert sorted(b["digest"].split(":")[1] for b in doc["delta"]["missing"]) == sorted(only_new)
    held = old.parent / "held.txt"
    held.write_text(tool("ls", new / "blobs" / "sha256"))
    run = run_cli("diff", "--format", "json", "--have", str(held), str(old), str(new))
    assert json.loads(run.out)["delta"]["missing_bytes"] == 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_container_format_gives_the_same_files(
    fmt: str, built: tuple[Path, Path], tmp_path: Path
) -> None:
    old, new = built
    a, b = convert(fmt, old, tmp_path / "old.tar"), convert(fmt, new, tmp_path / "new.tar")
    code, doc = diff_doc(a, b)
    assert code == 1
    [pair] = doc["images"]
    assert [(c["path"], c["change"], c["what"]) for c in pair["files"]["changes"]] == truth(
        old, new
    )
    assert len(doc["added"]) == 1


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="needs skopeo on PATH")
def test_skopeo_dir_copies(built: tuple[Path, Path], tmp_path: Path) -> None:
    old, new = built
    tool("skopeo", "copy", f"oci:{old}:v1", f"dir:{tmp_path / 'old'}")
    # NEW holds two platforms under one tag: skopeo copies the host's (amd64) from the index
    tool("skopeo", "--override-arch", "amd64", "copy", f"oci:{new}:v2", f"dir:{tmp_path / 'new'}")
    code, doc = diff_doc(tmp_path / "old", tmp_path / "new")
    assert code == 1
    [pair] = doc["images"]
    assert [(c["path"], c["change"], c["what"]) for c in pair["files"]["changes"]] == truth(
        old, new
    )
