"""Shapes that once passed as OK without earning it, each a kind of fault: a claim that no
check read (a layer count, a layer list, a config's media type, a digest we cannot hash, an
undeclared compression), or an OS error read as the whole export's."""

from __future__ import annotations

import base64
import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import run_cli
from .exports import Image, Written, cj, gz, layer_tar, legacy, oci, sha, skopeo_dir, to_dir, to_tar

T = [layer_tar({"a": b"1"}), layer_tar({"b": b"2"})]


def _verify(w: Written, tmp: Path, *args: str) -> tuple[int, set[str]]:
    run = run_cli("verify", "--format", "json", *args, str(to_dir(w, tmp / "x")))
    assert run.code in (0, 1), run.err
    return run.code, {p["kind"] for p in run.json()["problems"]}


def _remanifest(w: Written, change: Callable[[dict], None]) -> None:  # type: ignore[type-arg]
    """Edit the first image's manifest and re-point index.json at the edited copy."""
    index = json.loads(w.files["index.json"])
    entry = index["manifests"][0]
    manifest = json.loads(w.files.pop("blobs/sha256/" + entry["digest"][7:]))
    change(manifest)
    data = cj(manifest)
    w.put_blob(data)
    entry["digest"], entry["size"] = sha(data), len(data)
    w.files["index.json"] = cj(index)


def test_legacy_layers_past_the_diff_ids_are_a_count_mismatch(tmp_path: Path) -> None:
    w = legacy([Image([T[0], layer_tar({"evil": b"x"})], diff_ids=[sha(T[0])])])
    assert _verify(w, tmp_path) == (1, {"diff_id_count_mismatch"})


@pytest.mark.parametrize("change", ["missing", "other", "reversed"])
def test_docker25_manifest_json_layers_are_checked(change: str, tmp_path: Path) -> None:
    w = oci([Image(T)], docker25=True)
    entries = json.loads(w.files["manifest.json"])
    layers = entries[0]["Layers"]
    if change == "missing":
        layers[1] = "blobs/sha256/" + "0" * 64
    elif change == "other":
        layers[1] = entries[0]["Config"]
    else:
        layers.reverse()
    w.files["manifest.json"] = cj(entries)
    code, kinds = _verify(w, tmp_path)
    assert code == 1 and "index_disagreement" in kinds
    assert kinds & {"missing_blob", "diff_id_mismatch", "not_a_tar"}


def test_a_non_tar_blob_of_unknown_type_in_an_image_keeps_its_diff_id_check(tmp_path: Path) -> None:
    w = oci([Image([T[0]], diff_ids=[sha(T[0]), sha(b"whatever")])])
    blob = b'{"x":1}'
    w.put_blob(blob)
    extra = {"mediaType": "application/octet-stream", "digest": sha(blob), "size": len(blob)}
    _remanifest(w, lambda m: m["layers"].append(extra))
    assert _verify(w, tmp_path, "--strict") == (1, {"diff_id_mismatch", "unknown_media_type"})


@pytest.mark.parametrize(
    "media", ["application/octet-stream", "application/vnd.oci.image.config.v1+json; charset=utf-8"]
)
def test_a_config_media_type_never_turns_off_diff_ids(media: str, tmp_path: Path) -> None:
    w = oci([Image(T, diff_ids=[sha(T[0]), sha(b"nope")])])
    _remanifest(w, lambda m: m["config"].__setitem__("mediaType", media))
    code, kinds = _verify(w, tmp_path)
    assert code == 1 and "diff_id_mismatch" in kinds


def test_layer_sources_of_an_ordinary_layer_do_not_excuse_its_absence(tmp_path: Path) -> None:
    w = legacy([Image(T)])
    del w.files[w.layer_names[1]]
    entries = json.loads(w.files["manifest.json"])
    plain = {
        "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "digest": sha(gz(T[1])),
        "size": 9,
    }
    entries[0]["LayerSources"] = {sha(T[1]): plain}
    w.files["manifest.json"] = cj(entries)
    assert _verify(w, tmp_path) == (1, {"missing_blob"})


@pytest.mark.parametrize("path", ["dir", "stdin"])
def test_fast_inflates_a_compressed_legacy_layer(path: str, tmp_path: Path) -> None:
    w = legacy([Image(T)], encode=lambda t: b"\x1f\x8b" + b"garbage" * 10)
    if path == "dir":
        code, kinds = _verify(w, tmp_path, "--fast")
    else:
        run = run_cli("verify", "--fast", "--format", "json", "-", stdin=to_tar(w))
        code, kinds = run.code, {p["kind"] for p in run.json()["problems"]}
    assert code == 1 and "corrupt_compression" in kinds


def test_a_layer_named_by_a_digest_we_cannot_hash_is_still_read(tmp_path: Path) -> None:
    w = oci([Image(T)])
    _remanifest(w, lambda m: m["layers"][1].__setitem__("digest", "blake3:" + "ab" * 32))
    w.files["blobs/blake3/" + "ab" * 32] = b"not a layer"
    code, kinds = _verify(w, tmp_path)
    assert code == 1 and {"unverifiable_digest", "size_mismatch"} <= kinds
    run = run_cli("verify", "--format", "json", str(tmp_path / "x"))
    assert [layer["verified"] for layer in run.json()["images"][0]["layers"]] == [True, False]


@pytest.mark.parametrize("fmt", ["oci", "docker25", "skopeo", "legacy"])
def test_an_os_error_on_one_blob_is_that_blobs_problem(fmt: str, tmp_path: Path) -> None:
    makers: dict[str, Callable[[], Written]] = {
        "oci": lambda: oci([Image(T)]),
        "docker25": lambda: oci([Image(T)], docker25=True),
        "skopeo": lambda: skopeo_dir(Image(T)),
        "legacy": lambda: legacy([Image(T)]),
    }
    w = makers[fmt]()
    root = to_dir(w, tmp_path / "x")
    blob = root / w.layer_names[1]
    blob.unlink()
    blob.symlink_to(blob.name)  # a link to itself: ELOOP
    run = run_cli("verify", "--format", "json", str(root))
    assert run.code == 1, run.err
    assert "unreadable_blob" in {p["kind"] for p in run.json()["problems"]}


def _outer(members: list[tuple[str, bytes | None, str | None]]) -> bytes:
    """A tarball of (name, data, hardlink target) members, in that order."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data, link in members:
            info = tarfile.TarInfo(name)
            if link is not None:
                info.type, info.linkname = tarfile.LNKTYPE, link
            else:
                info.size = len(data or b"")
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _corrupt(data: bytes) -> bytes:
    return data[:600] + bytes([data[600] ^ 1]) + data[601:]


@pytest.mark.parametrize("path", ["tar", "stdin"])
def test_an_archive_hardlink_takes_its_targets_content_as_extraction_does(
    path: str, tmp_path: Path
) -> None:
    """B is a hardlink to A's corrupt copy; A is replaced by a good copy later: B stays corrupt."""
    w = legacy([Image([T[0], T[0]])])
    first, second = sorted(w.layer_names)
    good = w.files[first]
    members: list[tuple[str, bytes | None, str | None]] = []
    for name, data in sorted(w.files.items()):
        if name == first:
            members += [(first, _corrupt(good), None), (second, None, first), (first, good, None)]
        elif name != second:
            members.append((name, data, None))
    archive = _outer(members)
    if path == "tar":
        (tmp_path / "h.tar").write_bytes(archive)
        run = run_cli("verify", "--format", "json", str(tmp_path / "h.tar"))
    else:
        run = run_cli("verify", "--format", "json", "-", stdin=archive)
    kinds = {p["kind"] for p in run.json()["problems"]}
    assert run.code == 1 and {"diff_id_mismatch", "duplicate_entry"} <= kinds


@pytest.mark.parametrize("path", ["tar", "stdin"])
def test_a_tarball_holding_a_blob_twice_is_noted(path: str, tmp_path: Path) -> None:
    w = oci([Image(T)])
    layer = w.layer_names[0]
    members: list[tuple[str, bytes | None, str | None]] = []
    for name, data in sorted(w.files.items()):
        members += (
            [(name, b"junk", None), (name, data, None)] if name == layer else [(name, data, None)]
        )
    archive = _outer(members)
    (tmp_path / "d.tar").write_bytes(archive)
    target = str(tmp_path / "d.tar") if path == "tar" else "-"
    run = run_cli(
        "verify", "--strict", "--format", "json", target, stdin=archive if path == "stdin" else None
    )
    assert run.code == 1 and {p["kind"] for p in run.json()["problems"]} == {"duplicate_entry"}


def test_huge_member_names_in_a_tarball_are_not_held(tmp_path: Path) -> None:
    """300 members with 1 MB PAX names: never indexed, so never 300 MB of names in memory."""
    from .test_bounds_support import run_rss

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for n in range(300):
            tf.addfile(tarfile.TarInfo(f"{n}" + "x" * 1_000_000))
    archive = tmp_path / "names.tar.gz"
    archive.write_bytes(gz(buf.getvalue()))
    code, rss = run_rss("verify", str(archive))
    assert code == 2 and rss < 96


@pytest.mark.parametrize(("data", "kind"), [(b"evil", "size_mismatch"), (None, "digest_mismatch")])
def test_embedded_data_must_be_the_content(data: bytes | None, kind: str, tmp_path: Path) -> None:
    """image-spec descriptor.md: ``data`` MUST equal the referenced content."""
    w = oci([Image(T)])
    real = w.files[w.layer_names[0]]
    embedded = data if data is not None else real[:-1] + bytes([real[-1] ^ 1])  # same size
    _remanifest(
        w, lambda m: m["layers"][0].__setitem__("data", base64.b64encode(embedded).decode())
    )
    assert _verify(w, tmp_path, "--strict") == (1, {kind})


def test_embedded_data_equal_to_the_content_is_fine(tmp_path: Path) -> None:
    w = oci([Image(T)])
    real = w.files[w.layer_names[0]]
    _remanifest(w, lambda m: m["layers"][0].__setitem__("data", base64.b64encode(real).decode()))
    assert _verify(w, tmp_path, "--strict") == (0, set())


def test_one_manifest_under_two_platforms_is_a_platform_mismatch(tmp_path: Path) -> None:
    w = oci([Image(T)])
    index = json.loads(w.files["index.json"])
    other = {**index["manifests"][0], "platform": {"os": "linux", "architecture": "arm64"}}
    other["annotations"] = {"org.opencontainers.image.ref.name": "other"}
    index["manifests"].append(other)
    w.files["index.json"] = cj(index)
    run = run_cli("inspect", "--format", "json", str(to_dir(w, tmp_path / "x")))
    assert run.code == 0 and {p["kind"] for p in run.json()["problems"]} == {"platform_mismatch"}


def test_inspect_sees_a_stored_size_that_differs_like_verify(tmp_path: Path) -> None:
    w = oci([Image(T)])
    w.files[w.layer_names[1]] += b"\0"
    root = to_dir(w, tmp_path / "x")
    for command, more in (("inspect", set()), ("verify", {"trailing_data"})):
        run = run_cli(command, "--format", "json", str(root))
        assert run.code == 1
        assert {p["kind"] for p in run.json()["problems"]} == {"size_mismatch"} | more


def test_huge_names_inside_a_layer_do_not_cost_their_size_in_listings(tmp_path: Path) -> None:
    """200 entries with 1 MB PAX names (Go reads names up to 1 MiB): a 200 KB layer."""
    from .test_bounds_support import run_rss
    from .test_one_verdict import image_manifest, layout

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for n in range(200):
            tf.addfile(tarfile.TarInfo(f"{n}/" + "x" * 1_000_000))
    root = tmp_path / "l"
    layout(root, [image_manifest(root, [buf.getvalue()])])
    for command in (["report"], ["files", "--format", "json"], ["files"]):
        code, rss = run_rss(*command, str(root))
        assert code == 0 and rss < 96, (command, rss)
    listing = run_cli("files", "--format", "json", str(root)).json()["entries"]
    assert len(listing) == 200
    cut = [e["path"] for e in listing if " more characters, sha256 " in e["path"]]
    assert len(cut) >= 180 and all(len(p) < 4200 for p in cut)  # past the 8 MiB kept whole
    assert len({e["path"] for e in listing}) == 200  # cut names stay distinct


def test_a_top_level_image_without_its_blobs_is_missing_not_partial(tmp_path: Path) -> None:
    """Only a platform of a nested multi-platform index may be absent from a partial export."""
    w = oci([Image(T)])  # index.json's entry carries a platform
    for name in [n for n in w.files if n.startswith("blobs/")]:
        del w.files[name]
    code, kinds = _verify(w, tmp_path)
    assert code == 1 and kinds == {"missing_blob"}


def test_an_xz_layer_of_unknown_media_type_is_still_unsupported(tmp_path: Path) -> None:
    import lzma

    w = oci([Image(T)])
    xz = lzma.compress(layer_tar({"other": b"x"}), format=lzma.FORMAT_XZ)
    w.put_blob(xz)

    def change(m: dict) -> None:  # type: ignore[type-arg]
        m["layers"][1].update(
            mediaType="application/vnd.oci.image.layer.v1.tar+xz", digest=sha(xz), size=len(xz)
        )

    _remanifest(w, change)
    code, kinds = _verify(w, tmp_path)
    assert code == 1 and "unsupported_compression" in kinds


def test_embedded_data_of_a_top_level_index_entry_is_checked(tmp_path: Path) -> None:
    w = oci([Image(T)])
    index = json.loads(w.files["index.json"])
    nested = cj({"schemaVersion": 2, "manifests": index["manifests"]})
    w.put_blob(nested)
    wrong = bytes(len(nested))
    entry = {
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "digest": sha(nested),
        "size": len(nested),
    }
    entry["data"] = base64.b64encode(wrong).decode()
    w.files["index.json"] = cj({"schemaVersion": 2, "manifests": [entry]})
    code, kinds = _verify(w, tmp_path)
    assert code == 1 and kinds == {"digest_mismatch"}


def test_artifact_type_does_not_turn_off_the_platform_check(tmp_path: Path) -> None:
    w = oci([Image(T)])  # config says amd64
    index = json.loads(w.files["index.json"])
    index["manifests"][0]["platform"]["architecture"] = "arm64"
    w.files["index.json"] = cj(index)
    _remanifest(w, lambda m: m.__setitem__("artifactType", "application/x-label"))
    index = json.loads(w.files["index.json"])
    index["manifests"][0]["platform"] = {"os": "linux", "architecture": "arm64"}
    w.files["index.json"] = cj(index)
    assert _verify(w, tmp_path, "--strict") == (1, {"platform_mismatch"})


def _symlinked_tar(files: dict[str, bytes], link: str, target: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            if name == link:
                info.type, info.linkname = tarfile.SYMTYPE, target
                tf.addfile(info)
                continue
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.mark.parametrize("fast", [False, True])
def test_a_stream_member_hashed_by_another_algorithm_is_never_ok(fast: bool) -> None:
    """blobs/sha256/<layer> is a link to blobs/sha512/<x> holding other bytes of that size."""
    w = oci([Image(T)])
    layer = w.layer_names[1]
    other = bytes(len(w.files[layer]))
    w.files["blobs/sha512/" + "ab" * 64] = other
    archive = _symlinked_tar(w.files, layer, "../sha512/" + "ab" * 64)
    args = ["verify", "--format", "json", *(["--fast"] if fast else []), "-"]
    run = run_cli(*args, stdin=archive)
    assert run.code == 1, run.out


@pytest.mark.parametrize("name", ["{h}.tar.gz", "{h}/layer", "layer.tar.gz"])
def test_fast_reads_crane_style_legacy_layers_from_a_stream(name: str) -> None:
    """go-containerregistry's tarball.Write names gzip layers <hex>.tar.gz: --fast must still
    hold them to their diff_id, from a stream as from a directory."""
    w = legacy([Image(T)], encode=gz)
    entries = json.loads(w.files["manifest.json"])
    renamed = []
    for i, old in enumerate(entries[0]["Layers"]):
        new = name.format(h=f"{i:064x}") if "{h}" in name else f"{i}/{name}"
        w.files[new] = w.files.pop(old)
        renamed.append(new)
    entries[0]["Layers"] = renamed
    w.files[renamed[1]] = gz(layer_tar({"b": b"3"}))  # not what the config's diff_id says
    w.files["manifest.json"] = cj(entries)
    run = run_cli("verify", "--fast", "--format", "json", "-", stdin=to_tar(w))
    assert run.code == 1 and "diff_id_mismatch" in {p["kind"] for p in run.json()["problems"]}


def test_a_tarball_of_a_million_members_is_refused_in_one_line(tmp_path: Path) -> None:
    from .test_bounds_support import run_rss

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        empty = tarfile.TarInfo("x")
        for n in range(250_000):
            empty.name = f"junk/{n}"
            tf.addfile(empty)
    (tmp_path / "many.tar.gz").write_bytes(gz(buf.getvalue()))
    code, rss = run_rss("verify", str(tmp_path / "many.tar.gz"))
    assert code == 2 and rss < 96


@pytest.mark.parametrize("path", ["dir", "stdin"])
def test_every_legacy_layer_file_is_read_even_when_diff_ids_repeat(
    path: str, tmp_path: Path
) -> None:
    """Repeated empty layers share a diff_id; each of their files is still held to it."""
    empty = layer_tar({})
    w = legacy([Image([empty, layer_tar({"a": b"1"}), empty])])
    w.files[w.layer_names[0]] = layer_tar({"evil": b"x"})  # what docker load applies first
    if path == "dir":
        code, kinds = _verify(w, tmp_path)
    else:
        run = run_cli("verify", "--format", "json", "-", stdin=to_tar(w))
        code, kinds = run.code, {p["kind"] for p in run.json()["problems"]}
        assert run.json()["unreferenced"] == []
    assert code == 1 and kinds == {"diff_id_mismatch"}
