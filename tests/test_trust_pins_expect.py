"""--expect: pinned digests (a digest, REF@DIGEST lines, a repo-info page) against an export.

Exports are written with tests/exports.py; every expected digest is computed here from the
bytes written (hashlib), and ``verified`` is what hashes to its name on disk, independently of
ocianalyze. The markdown page is ocianalyze's own (``report --format markdown``, run as a
user would) or written here in docker-library's layout.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from ocianalyze.digest import Digest
from ocianalyze.errors import InvalidDigest, Kind, Unreadable
from ocianalyze.sources import open_export
from ocianalyze.trust import pins, repoinfo

from .conftest import run_cli
from .exports import REF, Image, cj, layer_tar, legacy, oci, sha, to_dir, to_tar
from .test_one_verdict import image_manifest, layout, put

INDEX = "application/vnd.oci.image.index.v1+json"


def two_images(root: Path, salt: bytes = b"") -> tuple[Path, list[str]]:
    """A layout of two tagged images; their manifest digests, computed from the bytes."""
    w = oci(
        [
            Image([layer_tar({"a": b"a" + salt})], tag="example/app:1.0"),
            Image([layer_tar({"b": b"b" + salt})], tag="example/app:2.0", arch="arm64"),
        ]
    )
    digests = [m["digest"] for m in json.loads(w.files["index.json"])["manifests"]]
    return to_dir(w, root), digests


def verified_in(root: Path) -> set[Digest]:
    """Every blob of a layout whose bytes hash to its name (hashlib, not ocianalyze)."""
    blobs = root / "blobs" / "sha256"
    return {
        Digest("sha256", p.name)
        for p in blobs.iterdir()
        if hashlib.sha256(p.read_bytes()).hexdigest() == p.name
    }


def expect(root: Path, *specs: str | Path, verified: set[Digest] | None = None):  # type: ignore[no-untyped-def]
    export = open_export(str(root))
    seen = verified_in(root) if verified is None else verified
    return pins.check(export, seen, tuple(map(str, specs)))


def page_of(export: Path, dst: Path) -> Path:
    run = run_cli("report", "--format", "markdown", str(export))
    assert run.code == 0, run.err
    dst.write_text(run.out)
    return dst


# --- our own repo-info page ----------------------------------------------------------------------


def test_our_page_passes_on_its_export_and_fails_on_another(tmp_path: Path) -> None:
    a, a_digests = two_images(tmp_path / "a")
    b, _ = two_images(tmp_path / "b", salt=b"other")
    page = page_of(a, tmp_path / "a.md")
    assert [s.head and str(s.head) for s in repoinfo.sections(page.read_text())] == a_digests
    assert expect(a, page) == ([], [])
    problems, notes = expect(b, page)
    assert notes == []
    assert [(p.kind, p.digest) for p in problems] == [
        (Kind.DIGEST_NOT_EXPECTED, d) for d in a_digests
    ]
    assert all(p.severity.value == "error" for p in problems)


def test_a_page_of_an_index(tmp_path: Path) -> None:
    """The tag names a nested index: its digest is what the page pins first."""
    root = tmp_path / "idx"
    one, two = (
        image_manifest(root, [layer_tar({"x": b"1"})]),
        image_manifest(root, [layer_tar({"y": b"2"})]),
    )
    one["platform"] = {"os": "linux", "architecture": "amd64"}
    two["platform"] = {"os": "linux", "architecture": "arm64"}
    index = put(root, cj({"schemaVersion": 2, "mediaType": INDEX, "manifests": [one, two]}))
    layout(root, [{"mediaType": INDEX, **index, "annotations": {REF: "example/app:1.0"}}])
    page = page_of(root, tmp_path / "idx.md")
    (section,) = repoinfo.sections(page.read_text())
    assert str(section.head) == index["digest"]
    assert [str(d) for d in section.platforms] == [one["digest"], two["digest"]]
    assert expect(root, page) == ([], [])
    assert expect(root, index["digest"]) == ([], [])


# --- docker-library's page: a copy of some platforms only ------------------------------------


def library_page(index: str, platforms: list[tuple[str, str]], ids: list[str]) -> str:
    """A page in docker-library/repo-info's remote layout (repos/*/remote/*.md)."""
    lines = ["## `app:1.0`", "", "```console", f"$ docker pull app@{index}", "```", ""]
    lines += ["-\tManifest MIME: `application/vnd.oci.image.index.v1+json`", "-\tPlatforms:"]
    for (name, digest), image_id in zip(platforms, ids, strict=True):
        lines += ["", f"### `app:1.0` - {name}", "", "```console", f"$ docker pull app@{digest}"]
        lines += ["```", "", f"-\tImage ID: `{image_id}`"]
    return "\n".join(lines) + "\n"


def test_a_library_page_and_a_one_platform_copy(tmp_path: Path) -> None:
    root, (amd64, _) = two_images(tmp_path / "a")
    page = tmp_path / "library.md"
    index = sha(b"the registry's index, which a one-platform copy does not hold")
    page.write_text(
        library_page(index, [("linux; amd64", amd64), ("linux; s390x", sha(b"s"))], ["x", "y"])
    )
    problems, notes = expect(root, page)
    assert problems == []
    assert len(notes) == 1 and index in notes[0] and "1 listed platform(s) absent" in notes[0]
    page.write_text(library_page(index, [("linux; s390x", sha(b"s"))], ["x"]))
    problems, _ = expect(root, page)
    assert [(p.kind, p.digest) for p in problems] == [(Kind.DIGEST_NOT_EXPECTED, index)]
    assert "nor any of the 1 platforms" in problems[0].message


# --- digests and REF@DIGEST lines ---------------------------------------------------------------


def test_a_bare_digest(tmp_path: Path) -> None:
    root, (first, _) = two_images(tmp_path / "a")
    assert expect(root, first) == ([], [])
    other = sha(b"not in the export")
    problems, _ = expect(root, first, other)
    assert [(p.kind, p.digest) for p in problems] == [(Kind.DIGEST_NOT_EXPECTED, other)]


def test_a_pinned_manifest_that_did_not_verify(tmp_path: Path) -> None:
    root, (first, second) = two_images(tmp_path / "a")
    problems, _ = expect(root, first, second, verified=verified_in(root) - {Digest.parse(second)})
    assert [(p.digest, "did not verify" in p.message) for p in problems] == [(second, True)]


def test_a_damaged_manifest_is_not_the_pinned_one(tmp_path: Path) -> None:
    """A manifest whose bytes changed no longer hashes to the pinned digest (or to its name)."""
    root, (first, _) = two_images(tmp_path / "a")
    blob = root / "blobs/sha256" / first[7:]
    blob.write_bytes(blob.read_bytes().replace(b'"schemaVersion":2', b'"schemaVersion":2 '))
    problems, _ = expect(root, first)
    assert [(p.kind, p.digest) for p in problems] == [(Kind.DIGEST_NOT_EXPECTED, first)]


def test_ref_at_digest_lines(tmp_path: Path) -> None:
    root, (first, second) = two_images(tmp_path / "a")
    missing = sha(b"gone")
    spec = tmp_path / "pins.txt"
    spec.write_text(
        f"# pinned for the release\n\nexample/app:1.0@{first}\n  example/app:2.0@{second}  \n"
        f"{second}\nexample/app:3.0@{missing}\n"
    )
    problems, notes = expect(root, spec)
    assert notes == []
    assert [(p.kind, p.digest, p.path) for p in problems] == [
        (Kind.DIGEST_NOT_EXPECTED, missing, str(spec))
    ]
    assert "example/app:3.0" in problems[0].message


# --- a legacy docker save: the image ID --------------------------------------------------------


def test_a_legacy_save_compares_the_image_id(tmp_path: Path) -> None:
    image = Image([layer_tar({"a": b"a"})], tag="example/app:1.0")
    archive = tmp_path / "legacy.tar"
    archive.write_bytes(to_tar(legacy([image])))
    image_id = sha(image.config())
    export = open_export(str(archive))
    verified = {Digest.parse(image_id)}
    problems, notes = pins.check(export, verified, (image_id,))
    assert problems == []
    assert notes == [
        "legacy docker save (no manifest): pinned digests compared with the image IDs "
        "(config digests)"
    ]
    manifest = json.loads(oci([image]).files["index.json"])["manifests"][0]["digest"]
    problems, _ = pins.check(export, verified, (manifest,))
    assert [(p.kind, p.digest) for p in problems] == [(Kind.DIGEST_NOT_EXPECTED, manifest)]
    assert "is not an image ID" in problems[0].message
    page = page_of(archive, tmp_path / "legacy.md")
    assert pins.check(export, verified, (str(page),))[0] == []


# --- specs that cannot be read -------------------------------------------------------------------


def test_unreadable_specs(tmp_path: Path) -> None:
    root, _ = two_images(tmp_path / "a")
    with pytest.raises(Unreadable, match="No such file"):
        expect(root, tmp_path / "absent.txt")
    with pytest.raises(InvalidDigest):
        expect(root, "sha256:abc")
    bad = tmp_path / "bad.txt"
    bad.write_text("# ok\nexample/app:1.0@sha256:abc\n")
    with pytest.raises(Unreadable, match="line 2"):
        expect(root, bad)
    bad.write_text("just words\n")
    with pytest.raises(Unreadable, match="line 1"):
        expect(root, bad)
    bad.write_text("# comments only\n\n")
    with pytest.raises(Unreadable, match="no REF@DIGEST"):
        expect(root, bad)
    with pytest.raises(Unreadable):
        expect(root, tmp_path)  # a directory


def test_page_digests_are_untrusted_text(tmp_path: Path) -> None:
    """A pull line with a digest off the grammar pins nothing; a page naming none is refused."""
    root, _ = two_images(tmp_path / "a")
    page = tmp_path / "odd.md"
    page.write_text(
        "## `x`\n\n$ docker pull x@sha256:"
        + "A" * 64
        + "\n-\tImage ID: `sha256:"
        + "F" * 64
        + "`\n"
    )
    with pytest.raises(Unreadable, match="names no digest"):
        expect(root, page)


# --- the command line (wired by the trust orchestrator) -------------------------------------------


def test_cli_expect(tmp_path: Path) -> None:
    if "--expect" not in run_cli("verify", "--help").out:
        pytest.skip("verify has no --expect option yet")
    a, _ = two_images(tmp_path / "a")
    b, _ = two_images(tmp_path / "b", salt=b"other")
    page = page_of(a, tmp_path / "a.md")
    assert run_cli("verify", "--expect", str(page), str(a)).code == 0
    bad = run_cli("verify", "--format", "json", "--expect", str(page), str(b))
    assert bad.code == 1
    kinds = [p["kind"] for p in bad.json()["problems"]]
    assert kinds.count("digest_not_expected") == 2
    assert run_cli("verify", "--expect", str(tmp_path / "absent"), str(a)).code == 2
