"""A bundle of 24 exports in every format, built with the standard library (tests/exports.py):
some share blobs (one layout whose three images share ``blobs/``, hardlinked copies of whole
exports, a plain copy), two are damaged. ``build`` is used by the other test_bundle_* files;
the tests here check that the bundle itself is what the others assume (independently of
ocianalyze: inode numbers, file sizes).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .exports import (
    Image,
    Written,
    flip,
    gz,
    layer_tar,
    legacy,
    oci,
    sha,
    skopeo_dir,
    to_dir,
    to_tar,
    zstd,
)

ZSTD_LAYER = "application/vnd.oci.image.layer.v1.tar+zstd"


def _payload(seed: str, size: int) -> bytes:
    """``size`` bytes that compress a little (text-like), different for each seed."""
    line = f"{seed} " * 8 + "\n"
    return (line * (size // len(line) + 1)).encode()[:size]


def images() -> tuple[Image, Image, Image]:
    """Three images: B shares A's base layer; C has one layer of its own."""
    base = layer_tar({"etc/os-release": _payload("base", 60_000)})
    a = Image([base, layer_tar({"app/a": _payload("a", 40_000)})], tag="example/a:1")
    b = Image([base, layer_tar({"app/b": _payload("b", 30_000)})], tag="example/b:1")
    c = Image([layer_tar({"srv/c": _payload("c", 80_000)})], tag="example/c:1", arch="arm64")
    return a, b, c


@dataclass
class Built:
    """The bundle: every path in order, and what the tests know about them."""

    paths: list[Path] = field(default_factory=list)
    images: dict[Path, int] = field(default_factory=dict)  # images per export
    damaged: dict[Path, set[str]] = field(default_factory=dict)  # problem kinds expected
    hardlinked: list[Path] = field(default_factory=list)  # copies made of hard links
    copied: Path | None = None  # a copy made of new files
    streams: list[Path] = field(default_factory=list)  # compressed as a whole: read locally

    def add(self, path: Path, count: int) -> Path:
        self.paths.append(path)
        self.images[path] = count
        return path


def _link_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, copy_function=os.link)
    return dst


def _tar(written: Written, path: Path, encode: object = None) -> Path:
    data = to_tar(written)
    path.write_bytes(zstd(data) if encode == "zstd" else gz(data) if encode == "gzip" else data)
    return path


def build(root: Path) -> Built:
    """Write the bundle under ``root`` (24 exports; two damaged)."""
    a, b, c = images()
    out = Built()
    d = root
    shared = out.add(to_dir(oci([a, b, c]), d / "layout-abc"), 3)  # three images, one blobs/
    out.hardlinked.append(out.add(_link_tree(shared, d / "layout-abc-link"), 3))
    oci_a = out.add(to_dir(oci([a]), d / "oci-a"), 1)
    out.hardlinked.append(out.add(_link_tree(oci_a, d / "oci-a-link"), 1))
    out.copied = out.add(Path(shutil.copytree(oci_a, d / "oci-a-copy")), 1)
    out.add(to_dir(oci([b]), d / "oci-b"), 1)
    out.add(to_dir(oci([c], encode=zstd, media=ZSTD_LAYER), d / "oci-c-zstd"), 1)
    out.add(_tar(oci([a]), d / "oci-a.tar"), 1)
    out.add(_tar(oci([c]), d / "oci-c.tar"), 1)
    out.add(to_dir(oci([a], docker25=True), d / "docker25-a"), 1)
    out.add(_tar(oci([b], docker25=True), d / "docker25-b.tar"), 1)
    out.add(_tar(oci([a, c], docker25=True), d / "docker25-ac.tar"), 2)
    out.add(to_dir(legacy([a]), d / "legacy-a"), 1)
    out.add(_tar(legacy([b]), d / "legacy-b.tar"), 1)
    out.add(_tar(legacy([a, c]), d / "legacy-ac.tar"), 2)
    out.add(to_dir(skopeo_dir(a), d / "skopeo-a"), 1)
    out.add(to_dir(skopeo_dir(b), d / "skopeo-b"), 1)
    out.add(to_dir(skopeo_dir(c), d / "skopeo-c"), 1)
    out.streams.append(out.add(_tar(oci([a]), d / "oci-a.tar.zst", "zstd"), 1))
    out.streams.append(out.add(_tar(legacy([c]), d / "legacy-c.tar.gz", "gzip"), 1))
    out.add(to_dir(oci([b, c]), d / "oci-bc"), 2)
    out.add(_tar(oci([b, c]), d / "oci-bc.tar"), 2)
    # Damaged: a flipped byte in a stored layer; a config whose diff_id is wrong.
    bad = oci([a])
    bad.files[bad.layer_names[1]] = flip(bad.files[bad.layer_names[1]])
    out.damaged[out.add(to_dir(bad, d / "damaged-digest"), 1)] = {
        "digest_mismatch",
        "corrupt_compression",
    }
    wrong = Image(b.tars, tag="example/b:wrong", diff_ids=[sha(b.tars[0]), sha(b"other")])
    out.damaged[out.add(_tar(oci([wrong]), d / "damaged-diffid.tar"), 1)] = {"diff_id_mismatch"}
    return out


def layer_files(export: Path) -> list[Path]:
    """The layer blobs of an OCI layout directory (from its manifests, by the standard
    library), each once."""
    import json

    seen: dict[str, Path] = {}
    index = json.loads((export / "index.json").read_bytes())
    for m in index["manifests"]:
        manifest = json.loads((export / "blobs/sha256" / m["digest"][7:]).read_bytes())
        for layer in manifest["layers"]:
            seen[layer["digest"]] = export / "blobs/sha256" / layer["digest"][7:]
    return list(seen.values())


def test_the_bundle_is_what_the_tests_assume(tmp_path: Path) -> None:
    built = build(tmp_path)
    assert len(built.paths) >= 20 and len(built.damaged) == 2
    src, link = built.paths[0], built.hardlinked[0]
    for f in layer_files(src):  # the hardlinked copy is the same files (device and inode)
        twin = link / f.relative_to(src)
        assert (f.stat().st_dev, f.stat().st_ino) == (twin.stat().st_dev, twin.stat().st_ino)
    assert built.copied is not None
    for f in layer_files(built.copied):  # the plain copy: same bytes, other files
        original = tmp_path / "oci-a" / f.relative_to(built.copied)
        assert f.read_bytes() == original.read_bytes()
        assert f.stat().st_ino != original.stat().st_ino
    # The layout's images share their base layer: 3 images, 4 distinct layers.
    assert len(layer_files(src)) == 4
