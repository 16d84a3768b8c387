"""One verdict for every export: the same image in every format, through every reader path,
with every damage, gives the same problem kinds and exit code.

Expected kinds are written down per damage from what the damage breaks (the spec's rule), never
read back from ocianalyze. A legacy save holds no manifest, so its layers' one claim is the
config's diff_id: a changed layer byte there is a diff_id mismatch only.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import run_cli
from .exports import (
    Image,
    Written,
    cj,
    layer_tar,
    legacy,
    oci,
    sha,
    skopeo_dir,
    to_dir,
    to_tar,
    xz_bytes,
    zstd,
)

FILES = {"etc/hostname": b"matrix\n", "usr/bin/app": b"\x7fELF" + bytes(3000)}
BASE = layer_tar({"etc/os-release": b"ID=test\n"})
TOP = layer_tar(FILES)

FORMATS: dict[str, Callable[[list[Image]], Written]] = {
    "oci": oci,
    "docker25": lambda images: oci(images, docker25=True),
    "legacy": legacy,
    "skopeo": lambda images: skopeo_dir(images[0]),
}
PATHS = ("dir", "tar", "stdin", "gzip-stdin", "zstd-file")
LEGACY_LIKE = {"legacy"}


def _layer_file(w: Written) -> str:
    return w.layer_names[1]  # the top layer


def _relayer(w: Written, fmt: str, tar: bytes) -> None:
    """Store ``tar`` in place of the top layer, compressed as the format stores layers."""
    w.files[_layer_file(w)] = tar if fmt in LEGACY_LIKE else gzip.compress(tar, mtime=0)


# Each damage: (applies to formats, change, expected kinds). The image's diff_ids are true
# unless the damage says otherwise.
def _content_flipped(w: Written, fmt: str) -> None:
    _relayer(w, fmt, layer_tar({**FILES, "etc/hostname": b"matriX\n"}))


def _config_flipped(w: Written, fmt: str) -> None:
    w.files[w.config_name] = w.files[w.config_name].replace(b"2024-01-15", b"2024-01-16")


def _manifest_reordered(w: Written, fmt: str) -> None:
    doc = json.loads(w.files[w.manifest_name])
    w.files[w.manifest_name] = cj(dict(reversed(list(doc.items()))))  # same length


def _layer_truncated(w: Written, fmt: str) -> None:
    w.files[_layer_file(w)] = w.files[_layer_file(w)][:-10]


def _layer_missing(w: Written, fmt: str) -> None:
    del w.files[_layer_file(w)]


def _extra_member(w: Written, fmt: str) -> None:
    junk = b"not referenced by anything\n"
    w.files["blobs/sha256/" + sha(junk)[7:] if fmt != "skopeo" else sha(junk)[7:]] = junk


DAMAGES: dict[str, tuple[frozenset[str], Callable[[Written, str], None], dict[str, set[str]]]] = {
    "none": (frozenset(FORMATS), lambda w, f: None, {"*": set()}),
    "content-flipped": (
        frozenset(FORMATS),
        _content_flipped,
        {"*": {"digest_mismatch", "diff_id_mismatch"}, "legacy": {"diff_id_mismatch"}},
    ),
    "config-flipped": (frozenset(FORMATS), _config_flipped, {"*": {"digest_mismatch"}}),
    "manifest-reordered": (
        frozenset({"oci", "docker25"}),
        _manifest_reordered,
        {"*": {"digest_mismatch"}},
    ),
    "layer-truncated": (
        frozenset({"oci", "docker25", "skopeo"}),
        _layer_truncated,
        {"*": {"size_mismatch", "truncated"}},  # the gzip stream ends early, too
    ),
    "layer-missing": (frozenset(FORMATS), _layer_missing, {"*": {"missing_blob"}}),
    "extra-member": (frozenset(FORMATS), _extra_member, {"*": set()}),
}
ERRORS = {
    "truncated",
    "digest_mismatch",
    "diff_id_mismatch",
    "size_mismatch",
    "missing_blob",
    "not_a_tar",
    "unsupported_compression",
}


def _build(fmt: str, damage: str) -> Written:
    w = FORMATS[fmt]([Image([BASE, TOP])])
    DAMAGES[damage][1](w, fmt)
    return w


def _run(w: Written, path: str, tmp: Path, *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    tmp.mkdir(parents=True, exist_ok=True)
    if path == "dir":
        run = run_cli(*args, str(to_dir(w, tmp / "export")))
    elif path == "tar":
        (tmp / "export.tar").write_bytes(to_tar(w))
        run = run_cli(*args, str(tmp / "export.tar"))
    elif path == "stdin":
        run = run_cli(*args, "-", stdin=to_tar(w))
    elif path == "gzip-stdin":
        run = run_cli(*args, "-", stdin=gzip.compress(to_tar(w), mtime=0))
    else:
        (tmp / "export.tar.zst").write_bytes(zstd(to_tar(w)))
        run = run_cli(*args, str(tmp / "export.tar.zst"))
    assert run.code in (0, 1), (run.code, run.err)
    assert run.err.count("\n") <= 1, run.err
    return run.code, run.json()


CASES = [
    (fmt, path, damage)
    for damage, (formats, _, _) in DAMAGES.items()
    for fmt in sorted(formats)
    for path in (PATHS if fmt != "skopeo" else ("dir",))
]


@pytest.mark.parametrize(("fmt", "path", "damage"), CASES, ids=["-".join(c) for c in CASES])
def test_every_path_gives_the_same_verdict(
    fmt: str, path: str, damage: str, tmp_path: Path
) -> None:
    expected = DAMAGES[damage][2]
    want = expected.get(fmt, expected["*"])
    code, doc = _run(_build(fmt, damage), path, tmp_path, "verify", "--format", "json")
    kinds = {p["kind"] for p in doc["problems"]}
    assert kinds == want, doc["problems"]
    assert code == (1 if want & ERRORS else 0)
    assert doc["ok"] is (code == 0)
    verified = [layer["verified"] for layer in doc["images"][0]["layers"]]
    if damage in ("none", "extra-member", "config-flipped", "manifest-reordered"):
        assert verified == [True, True]
    else:
        assert verified[1] is False and verified[0] is True


@pytest.mark.parametrize("fmt", ["oci", "docker25", "legacy"])
@pytest.mark.parametrize("path", PATHS)
def test_fast_checks_every_stored_digest(fmt: str, path: str, tmp_path: Path) -> None:
    """--fast means stored digests and sizes only, on every format: a legacy layer's stored
    digest is its diff_id, so a changed byte there fails --fast too."""
    code, doc = _run(
        _build(fmt, "content-flipped"), path, tmp_path, "verify", "--fast", "--format", "json"
    )
    kinds = {p["kind"] for p in doc["problems"]}
    assert kinds == ({"diff_id_mismatch"} if fmt == "legacy" else {"digest_mismatch"})
    assert code == 1


@pytest.mark.parametrize("fmt", ["oci", "docker25", "legacy"])
@pytest.mark.parametrize("path", PATHS)
def test_a_layer_that_is_not_a_tar_fails_on_every_path(fmt: str, path: str, tmp_path: Path) -> None:
    junk = cj({"this": "is JSON, not a tar", "pad": "x" * 180})
    w = FORMATS[fmt]([Image([BASE, junk])])
    code, doc = _run(w, path, tmp_path, "verify", "--format", "json")
    kinds = {p["kind"] for p in doc["problems"]}
    assert kinds == {"not_a_tar"}, doc["problems"]
    assert code == 1
    assert [layer["verified"] for layer in doc["images"][0]["layers"]] == [True, False]


@pytest.mark.parametrize("fmt", ["oci", "skopeo"])
def test_a_descriptor_with_the_wrong_size_is_a_size_mismatch(fmt: str, tmp_path: Path) -> None:
    def plus_one(i: int, size: int) -> int:
        return size + 1 if i == 1 else size

    image = Image([BASE, TOP])
    w = oci([image], sizes=plus_one) if fmt == "oci" else skopeo_dir(image, sizes=plus_one)
    for path in PATHS if fmt == "oci" else ("dir",):
        code, doc = _run(w, path, tmp_path / path, "verify", "--format", "json")
        assert {p["kind"] for p in doc["problems"]} == {"size_mismatch"}, (path, doc["problems"])
        assert code == 1


@pytest.mark.parametrize("fmt", ["oci", "legacy"])
@pytest.mark.parametrize("path", PATHS)
def test_an_xz_layer_is_named_unsupported(fmt: str, path: str, tmp_path: Path) -> None:
    images = [Image([BASE, TOP])]
    w = oci(images, encode=xz_bytes) if fmt == "oci" else legacy(images, encode=xz_bytes)
    code, doc = _run(w, path, tmp_path, "verify", "--format", "json")
    kinds = {p["kind"] for p in doc["problems"]}
    assert "unsupported_compression" in kinds, doc["problems"]
    assert not kinds & {"truncated", "not_a_tar", "diff_id_mismatch"}
    assert code == 1


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("corrupt", [False, True])
def test_docker25_image_named_only_by_manifest_json_is_verified(
    path: str, corrupt: bool, tmp_path: Path
) -> None:
    """moby/moby#51389: manifest.json lists two images, index.json one. Both are verified; the
    disagreement is a warning."""
    second = Image([layer_tar({"b": b"second image\n"})], tag="example/b:1.0", arch="arm64")
    w = oci([Image([BASE, TOP]), second], docker25=True)
    index = json.loads(w.files["index.json"])
    index["manifests"] = index["manifests"][:1]
    w.files["index.json"] = cj(index)
    entries = json.loads(w.files["manifest.json"])
    b_layer = entries[1]["Layers"][0]
    if corrupt:
        w.files[b_layer] = gzip.compress(layer_tar({"b": b"Second image\n"}), mtime=0)
    code, doc = _run(w, path, tmp_path, "verify", "--format", "json")
    kinds = {p["kind"] for p in doc["problems"]}
    b = next(i for i in doc["images"] if i["refs"] == ["example/b:1.0"])
    assert b["platform"]["architecture"] == "arm64"
    assert b["layers"][0]["digest"] == "sha256:" + b_layer.rsplit("/", 1)[1]
    if corrupt:
        assert {"digest_mismatch", "diff_id_mismatch"} <= kinds and code == 1
        assert b["layers"][0]["verified"] is False
    else:
        assert kinds == {"index_disagreement"} and code == 0
        assert b["layers"][0]["verified"] is True


@pytest.mark.parametrize("path", ["stdin", "gzip-stdin"])
def test_stream_members_nothing_names_are_listed_unreferenced(path: str, tmp_path: Path) -> None:
    import io

    from ocianalyze import open_export, verify

    w = _build("oci", "extra-member")
    data = to_tar(w) if path == "stdin" else gzip.compress(to_tar(w), mtime=0)
    v = verify(open_export("-", stdin=io.BytesIO(data), scan_stream=True))
    junk = next(n for n in w.files if n not in _build("oci", "none").files)
    assert v.unreferenced == (junk,)
    assert v.ok(strict=True)
    run = run_cli("verify", "--format", "json", "-", stdin=data)
    assert run.code == 0 and run.json()["unreferenced"] == [junk]
