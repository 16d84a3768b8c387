"""Open any export: detect its format from content (never from the file name) and load it."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from ..compression import DecompressingReader, Readable, sniff
from ..errors import NotAnExport, OciError
from ..mediatypes import Compression
from ..walker import ScanOptions, looks_like_tar
from .base import DirStorage, Export, ExportFormat, Storage
from .docker_save import load_docker, read_docker_manifest, repo_tags
from .loader import Loader
from .oci_layout import load_oci
from .skopeo_dir import load_skopeo_dir

HEAD = 1024


class _Prefixed:
    """A stream whose first bytes were already read to sniff it."""

    def __init__(self, head: bytes, rest: Readable) -> None:
        self._head, self._rest = head, rest

    def read(self, n: int = -1) -> bytes:
        if self._head:
            if n < 0:
                out, self._head = self._head + self._rest.read(), b""
                return out
            out, self._head = self._head[:n], self._head[n:]
            return out
        return self._rest.read(n)


def open_export(
    path: str,
    *,
    scan_stream: bool = False,
    opts: ScanOptions = ScanOptions(),
    progress: Callable[[int], None] | None = None,
    stdin: BinaryIO | None = None,
) -> Export:
    """Open ``path`` (a directory, a tar file, a compressed tar file, or "-" for stdin).

    ``scan_stream``: when the input can only be read once, scan every blob as it passes
    (needed to verify it); otherwise only metadata is kept.
    """
    if path == "-":
        raw = stdin if stdin is not None else sys.stdin.buffer
        head = raw.read(HEAD)
        return _from_stream(_Prefixed(head, raw), head, "-", scan_stream, opts, progress)
    p = Path(path)
    if p.is_dir():
        return _from_dir(p, path)
    if not p.exists():
        raise NotAnExport(path, "no such file or directory")
    if not p.is_file():
        raise NotAnExport(path, "not a regular file or directory")
    try:
        with p.open("rb") as f:
            head = f.read(HEAD)
            if sniff(head) is not Compression.NONE:
                f.seek(0)
                return _from_stream(f, head, path, scan_stream, opts, progress)
    except OSError as exc:
        raise OciError(path, exc.strerror or str(exc)) from None
    if not looks_like_tar(head):
        raise NotAnExport(path, "empty file" if not head else "not a tar archive or image layout")
    from .tarball import TarStorage  # here, not above: tarfile costs start-up time

    storage = TarStorage(path, path)
    return _load(storage, storage.names, path, archive=True)


def _from_stream(
    raw: Readable,
    head: bytes,
    where: str,
    scan_stream: bool,
    opts: ScanOptions,
    progress: Callable[[int], None] | None,
) -> Export:
    if not head:
        raise NotAnExport(where, "empty input")
    compression = sniff(head)
    stream = raw if compression is Compression.NONE else DecompressingReader(raw, compression)
    if compression is Compression.NONE and not looks_like_tar(head):
        raise NotAnExport(where, "not a tar archive")
    from .tarball import StreamStorage

    storage = StreamStorage(
        stream,
        where,
        scan_blobs=scan_stream,
        opts=opts,
        progress=progress,
    )
    return _load(storage, storage.names, where, archive=True)


def _from_dir(p: Path, where: str) -> Export:
    storage = DirStorage(p, where)
    names = {
        n
        for n in ("oci-layout", "index.json", "manifest.json", "version", "repositories")
        if storage.size(n) is not None
    }
    if "version" in names and "manifest.json" in names and "index.json" not in names:
        return _export(where, ExportFormat.DOCKER_DIR, storage, load_skopeo_dir(storage))
    return _load(storage, names, where, archive=False)


def _load(storage: Storage, names: set[str], where: str, *, archive: bool) -> Export:
    if "index.json" in names or "oci-layout" in names:
        if "manifest.json" in names:  # Docker 25+: an OCI layout plus docker's manifest.json
            tags = repo_tags(read_docker_manifest(storage))
            return _export(where, ExportFormat.DOCKER_ARCHIVE, storage, load_oci(storage, tags))
        fmt = ExportFormat.OCI_ARCHIVE if archive else ExportFormat.OCI_LAYOUT
        return _export(where, fmt, storage, load_oci(storage))
    if "manifest.json" in names:
        loader = load_docker(storage, read_docker_manifest(storage))
        return _export(where, ExportFormat.DOCKER_ARCHIVE, storage, loader, from_config=True)
    raise NotAnExport(where, "no index.json, oci-layout or manifest.json: not an image export")


def _export(
    where: str, fmt: ExportFormat, storage: Storage, loader: Loader, from_config: bool = False
) -> Export:
    return Export(
        where,
        fmt,
        loader.model(),
        storage,
        loader.locations,
        frozenset(loader.verified),
        from_config,
    )
