"""Inputs for the scale rows of `make bench`: costs that grow with an input's shape, not its bytes.

- `million/`: one gzip layer of 1,000,000 empty regular files (1,000 directories of 1,000),
  the shape of a node_modules-heavy image; `tiny/` of the main data is its fixed-cost baseline
  and `tar -tzvf` (the same listing from GNU tar) its outside baseline.
- `deep/`: a layer of 4 files 500,000 directories deep (PAX `path` records just under Go's
  1 MiB cap) and a second layer holding one whiteout; `shallow/` is the same two layers with
  the 4 files one level deep: the ratio is what depth alone costs.
- `fanout/`: index.json -> 7 levels of nested indexes, each listing the next one 8 times
  (8^7 = 2,097,152 paths to one manifest); `flat/` holds the same image listed once.
- `members/`: the `flat/` export as a tarball with 190,000 empty members beside it, seekable
  (`seek.tar`) and compressed whole (`stream.tar.gz`, read from standard input); and with
  1,000,000 (`toomany.tar.gz`), past the member limit, which must be refused quickly.

Built with the standard library only (never ocianalyze code), once, in
~/.cache/ocianalyze-bench/scale-<SCALE_VERSION>/, like the main data.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

SCALE_VERSION = "v2"
FILES = 1_000_000
PER_DIR = 1_000
DEPTH = 500_000
FANOUT, LEVELS = 8, 7
MTIME = 1_700_000_000
END = bytes(1024)
INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def _json(doc: object) -> bytes:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


class _Layout:
    """An OCI image layout being written: blobs by content, then index.json."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs" / "sha256"
        self.blobs.mkdir(parents=True)
        (root / "oci-layout").write_bytes(_json({"imageLayoutVersion": "1.0.0"}))

    def put(self, data: bytes, media_type: str) -> dict[str, object]:
        digest = hashlib.sha256(data).hexdigest()
        (self.blobs / digest).write_bytes(data)
        return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}

    def put_layer(self, pieces: Iterator[bytes]) -> tuple[dict[str, object], str]:
        """A gzip layer streamed from ``pieces`` of tar: its descriptor and its diff_id."""
        tar_hash, comp = hashlib.sha256(), zlib.compressobj(6, zlib.DEFLATED, 31)
        stored_hash, size = hashlib.sha256(), 0
        tmp = self.blobs / "incoming"
        with tmp.open("wb") as f:
            for piece in [*pieces, None]:
                if piece is None:
                    out = comp.flush()
                else:
                    tar_hash.update(piece)
                    out = comp.compress(piece)
                stored_hash.update(out)
                size += len(out)
                f.write(out)
        digest = stored_hash.hexdigest()
        tmp.rename(self.blobs / digest)
        desc = {"mediaType": GZIP_LAYER, "digest": f"sha256:{digest}", "size": size}
        return desc, f"sha256:{tar_hash.hexdigest()}"

    def image(self, layers: list[Callable[[], Iterator[bytes]]]) -> dict[str, object]:
        """Write the layers, config and manifest; returns the manifest's descriptor."""
        descs, diff_ids = [], []
        for make in layers:
            desc, diff_id = self.put_layer(make())
            descs.append(desc)
            diff_ids.append(diff_id)
        config = {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": self.put(_json(config), CONFIG),
            "layers": descs,
        }
        return self.put(_json(manifest), MANIFEST)

    def index(self, desc: dict[str, object], ref: str) -> None:
        top = {**desc, "annotations": {"org.opencontainers.image.ref.name": ref}}
        doc = {"schemaVersion": 2, "mediaType": INDEX, "manifests": [top]}
        (self.root / "index.json").write_bytes(_json(doc))


def _header(name: str, *, size: int = 0, kind: bytes = tarfile.REGTYPE) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.type = size, MTIME, kind
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    return info.tobuf(format=tarfile.USTAR_FORMAT)


def _pax_path(path: str) -> bytes:
    """A PAX extended header setting ``path`` (tarfile would buffer the whole long name)."""
    record = f" path={path}\n".encode()
    length = len(record)
    while len(str(length).encode()) + len(record) != length:
        length = len(str(length).encode()) + len(record)
    body = str(length).encode() + record
    return _header("././@PaxHeader", size=len(body), kind=tarfile.XHDTYPE) + _block(body)


def _block(data: bytes) -> bytes:
    return data + bytes(-len(data) % 512)


def million_files() -> Iterator[bytes]:
    """FILES empty files in FILES / PER_DIR directories, each directory's headers in one piece."""
    for d in range(FILES // PER_DIR):
        parts = [_header(f"d{d:04d}/", kind=tarfile.DIRTYPE)]
        parts += [_header(f"d{d:04d}/f{i:04d}") for i in range(PER_DIR)]
        yield b"".join(parts)
    yield END


def _deep_files(depth: int) -> Iterator[bytes]:
    prefix = "/".join(["d"] * depth)
    for i in range(4):
        yield _pax_path(f"{prefix}/f{i}") + _header(f"f{i}", size=1) + _block(b"x")
    yield END


def _whiteout() -> Iterator[bytes]:
    yield _header(".wh.zzz") + END


def _build_million(out: Path) -> None:
    layout = _Layout(out)
    layout.index(layout.image([million_files]), "million")


def _build_deep(out: Path, depth: int) -> None:
    layout = _Layout(out)
    layout.index(layout.image([lambda: _deep_files(depth), _whiteout]), "deep")


def _build_fanout(out: Path, levels: int) -> None:
    layout = _Layout(out)
    child = layout.image([lambda: iter([_header("etc/motd", size=6) + _block(b"hello\n"), END])])
    for _ in range(levels):
        doc = {"schemaVersion": 2, "mediaType": INDEX, "manifests": [child] * FANOUT}
        child = layout.put(_json(doc), INDEX)
    layout.index(child, "fan")


MEMBERS, TOO_MANY = 190_000, 1_000_000


def _export_tar(export: Path, extra: int) -> Iterator[bytes]:
    """The files of ``export`` as tar members, then ``extra`` empty members, then the end."""
    for path in sorted(p for p in export.rglob("*") if p.is_file()):
        data = path.read_bytes()
        yield _header(str(path.relative_to(export)), size=len(data)) + _block(data)
    for n in range(extra):
        yield _header(f"junk/{n}")
    yield END


def _build_members(out: Path) -> None:
    out.mkdir(parents=True)
    flat = out.parent / "flat"
    with (out / "seek.tar").open("wb") as f:
        f.writelines(_export_tar(flat, MEMBERS))
    for name, count in (("stream.tar.gz", MEMBERS), ("toomany.tar.gz", TOO_MANY)):
        comp = zlib.compressobj(1, zlib.DEFLATED, 31)
        with (out / name).open("wb") as f:
            for piece in _export_tar(flat, count):
                f.write(comp.compress(piece))
            f.write(comp.flush())


BUILDERS: dict[str, Callable[[Path], None]] = {
    "million": _build_million,
    "deep": lambda out: _build_deep(out, DEPTH),
    "shallow": lambda out: _build_deep(out, 1),
    "fanout": lambda out: _build_fanout(out, LEVELS),
    "flat": lambda out: _build_fanout(out, 0),
    "members": _build_members,  # after "flat": it packs that export
}


def build_scale(cache: Path, say: Callable[[str], None]) -> Path:
    """The cached scale layouts (built once, into a temporary directory, then renamed)."""
    root = cache / f"scale-{SCALE_VERSION}"
    if (root / "built.json").exists():
        return root
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".scale-{SCALE_VERSION}-", dir=cache))
    try:
        t0 = time.perf_counter()
        say(f"building the scale inputs in {root} ...")
        for name, make in BUILDERS.items():
            make(work / name)
        info = {"version": SCALE_VERSION, "files": FILES, "depth": DEPTH, "fanout": FANOUT}
        (work / "built.json").write_bytes(_json(info))
        if root.exists():
            shutil.rmtree(root)
        work.rename(root)
        say(f"built in {time.perf_counter() - t0:.0f} s")
    finally:
        if work.exists():
            shutil.rmtree(work)
    return root
