"""Verification: scan every blob the export references exactly once, then check each use of it.

Blobs are independent, so they are scanned in parallel threads (hashlib and the decompressors
release the GIL). Problems are collected, never raised: one bad blob does not hide the others.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from . import mediatypes as mt
from .compression import Readable
from .digest import Digest
from .errors import Kind, OciError, Problem, Severity, UnsafePath
from .model import Descriptor, Image, ManifestKind
from .sources.base import Export
from .walker import BlobScan, ScanOptions, scan


@dataclass(frozen=True, slots=True)
class Options:
    jobs: int = 1
    fast: bool = False  # stored digests and sizes only, like `crane validate --fast`
    scan: ScanOptions = ScanOptions()


@dataclass(frozen=True)
class Verification:
    export: Export
    scans: dict[Digest, BlobScan]  # every referenced blob that was present
    problems: tuple[Problem, ...]

    def ok(self, strict: bool = False) -> bool:
        return not any(strict or p.severity is Severity.ERROR for p in self.problems)

    def verified(self) -> set[Digest]:
        """Blobs read in full whose every check passed."""
        bad = {p.digest for p in self.problems if p.severity is Severity.ERROR}
        return {d for d in self.scans if str(d) not in bad}


class _Counting:
    """Reports bytes read to a progress callback."""

    def __init__(self, raw: Readable, progress: Callable[[int], None]) -> None:
        self._raw, self._progress = raw, progress

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self._progress(len(data))
        return data


_RANK = {False: 0, None: 1, True: 2}


def _blob_jobs(export: Export, images: tuple[Image, ...], fast: bool) -> dict[Digest, bool | None]:
    """Every blob to read once, and how: True as a layer, False hash only, None sniff."""
    jobs: dict[Digest, bool | None] = {}
    for image in images:
        for layer in image.layers:
            how: bool | None = False
            if image.kind is ManifestKind.IMAGE and not fast:
                known = mt.is_layer(layer.media_type) or export.layer_digests_from_config
                how = True if known else None
            if layer.digest not in jobs or _RANK[how] > _RANK[jobs[layer.digest]]:
                jobs[layer.digest] = how
        if image.config_descriptor.digest not in export.verified_metadata:
            jobs.setdefault(image.config_descriptor.digest, False)
    return jobs


def verify(
    export: Export,
    opts: Options = Options(),
    progress: Callable[[int], None] | None = None,
    images: tuple[Image, ...] | None = None,
) -> Verification:
    """Verify ``images`` (default: every image and every absent manifest of the export)."""
    chosen = export.model.images if images is None else images
    jobs = _blob_jobs(export, chosen, opts.fast)
    problems = list(export.model.problems)
    scans: dict[Digest, BlobScan] = {}
    # More threads than layers to read: give each layer a second thread of its own.
    layers = sum(1 for how in jobs.values() if how is not False)
    opts = dataclasses.replace(opts, scan=dataclasses.replace(opts.scan, split=opts.jobs > layers))

    def run(item: tuple[Digest, bool | None]) -> tuple[Digest, BlobScan | None, Problem | None]:
        return _scan_job(export, item, opts, progress)

    for digest, result, problem in _map(run, _largest_first(export, jobs), opts.jobs):
        if result is not None:
            scans[digest] = result
        if problem is not None:
            problems.append(problem)
    problems += _check_uses(export, chosen, scans, opts, absent=images is None)
    return Verification(export, scans, tuple(_dedupe(problems)))


def _scan_job(
    export: Export,
    item: tuple[Digest, bool | None],
    opts: Options,
    progress: Callable[[int], None] | None,
) -> tuple[Digest, BlobScan | None, Problem | None]:
    """Scan one blob; a failure to read it becomes a problem, never an exception."""
    digest, as_layer = item
    try:
        return digest, _scan_one(export, digest, as_layer, opts, progress), None
    except UnsafePath as exc:
        problem = Problem(Kind.BLOB_OUTSIDE_EXPORT, str(digest), exc.where, exc.problem)
    except OciError as exc:
        problem = Problem(Kind.BAD_METADATA, str(digest), exc.where, exc.problem)
    except OSError as exc:
        where = f"{export.path}: {export.locations.get(digest, digest)}"
        problem = Problem(Kind.MISSING_BLOB, str(digest), where, str(exc))
    return digest, None, problem


def _largest_first(
    export: Export, jobs: dict[Digest, bool | None]
) -> list[tuple[Digest, bool | None]]:
    sizes = {d.digest: d.size for img in export.model.images for d in img.layers}
    return sorted(jobs.items(), key=lambda kv: -sizes.get(kv[0], 0))


def _map(
    fn: Callable[[tuple[Digest, bool | None]], tuple[Digest, BlobScan | None, Problem | None]],
    items: list[tuple[Digest, bool | None]],
    jobs: int,
) -> Iterator[tuple[Digest, BlobScan | None, Problem | None]]:
    """``map(fn, items)`` on ``jobs`` threads, results in order. Not concurrent.futures: it
    and the logging it imports cost 3 ms of every start, for a dozen lines."""
    if jobs <= 1 or len(items) <= 1:
        yield from map(fn, items)
        return
    results: list[Any] = [None] * len(items)
    ready = [threading.Event() for _ in items]
    todo = iter(range(len(items)))  # shared: next() on it is atomic, so each index runs once

    def work() -> None:
        for i in todo:
            try:
                results[i] = (True, fn(items[i]))
            except BaseException as exc:  # handed to the caller's thread
                results[i] = (False, exc)
            ready[i].set()

    threads = [threading.Thread(target=work, daemon=True) for _ in range(min(jobs, len(items)))]
    for t in threads:
        t.start()
    for i, event in enumerate(ready):
        event.wait()
        ok, value = results[i]
        if not ok:
            raise value
        yield value


def _scan_one(
    export: Export,
    digest: Digest,
    as_layer: bool | None,
    opts: Options,
    progress: Callable[[int], None] | None,
) -> BlobScan | None:
    storage = export.storage
    name = export.locations.get(digest, digest.blob_path)
    pre = storage.prescanned(name)
    if pre is not None:
        return pre
    if storage.size(name) is None:
        return None
    with storage.open(name) as raw:
        stream: Readable = _Counting(raw, progress) if progress else raw
        return scan(stream, digest.algorithm, layer=as_layer, opts=opts.scan)


def _check_uses(
    export: Export,
    images: tuple[Image, ...],
    scans: dict[Digest, BlobScan],
    opts: Options,
    absent: bool,
) -> list[Problem]:
    out: list[Problem] = []
    if absent:
        out += [_absent(a.descriptor, a.refs) for a in export.model.absent]
    for image in images:
        out += _check_image(export, image, scans, opts)
    return out


def _absent(desc: Descriptor, refs: tuple[str, ...]) -> Problem:
    where = refs[0] if refs else ""
    if desc.platform is not None:
        return Problem(
            Kind.PLATFORM_ABSENT,
            str(desc.digest),
            where,
            f"platform {desc.platform} is listed but its manifest is not in the export",
        )
    return Problem(Kind.MISSING_BLOB, str(desc.digest), where, f"manifest {desc.digest} is absent")


def _check_image(
    export: Export, image: Image, scans: dict[Digest, BlobScan], opts: Options
) -> list[Problem]:
    where = image.name
    present = [d for d in image.layers if d.digest in scans]
    if image.layers and not present and image.config is None and image.platform:
        return [
            Problem(
                Kind.PLATFORM_ABSENT,
                str(image.config_descriptor.digest),
                where,
                f"platform {image.platform} has none of its blobs in the export",
            )
        ]
    out: list[Problem] = []
    config_scan = scans.get(image.config_descriptor.digest)
    if config_scan is not None:
        out += _check_blob(image.config_descriptor, config_scan, where, export)
    diff_ids = image.config.diff_ids if image.config else ()
    if image.config is not None and len(diff_ids) != len(image.layers):
        out.append(
            Problem(
                Kind.DIFF_ID_COUNT,
                str(image.config_descriptor.digest),
                where,
                f"{len(image.layers)} layers but {len(diff_ids)} diff_ids in the config",
            )
        )
    out += _history_check(image, where)
    for i, desc in enumerate(image.layers):
        result = scans.get(desc.digest)
        if result is None:
            out.append(_missing_layer(desc, where))
            continue
        out += _check_blob(desc, result, where, export)
        if opts.fast or image.kind is not ManifestKind.IMAGE:
            continue
        out += _check_layer(desc, result, diff_ids[i] if i < len(diff_ids) else None, where)
    return out


def _missing_layer(desc: Descriptor, where: str) -> Problem:
    if desc.media_type in mt.FOREIGN_LAYER_TYPES or desc.urls:
        return Problem(
            Kind.FOREIGN_LAYER_ABSENT,
            str(desc.digest),
            where,
            f"foreign layer {desc.digest} is not in the export (fetched from "
            f"{desc.urls[0] if desc.urls else 'its registry'} at pull time)",
        )
    return Problem(Kind.MISSING_BLOB, str(desc.digest), where, f"blob {desc.digest} is absent")


def _check_blob(desc: Descriptor, result: BlobScan, where: str, export: Export) -> list[Problem]:
    d = str(desc.digest)
    if result.size != desc.size:
        return [
            Problem(
                Kind.SIZE_MISMATCH,
                d,
                where,
                f"{d}: descriptor says {desc.size} bytes, blob has {result.size}",
            )
        ]
    if result.digest.algorithm != desc.digest.algorithm:
        return [
            Problem(
                Kind.UNVERIFIABLE_DIGEST,
                d,
                where,
                f"{d}: hashed with {result.digest.algorithm} only",
            )
        ]
    if result.digest != desc.digest and not export.layer_digests_from_config:
        return [Problem(Kind.DIGEST_MISMATCH, d, where, f"expected {d}, got {result.digest}")]
    return []


def _check_layer(
    desc: Descriptor, result: BlobScan, diff_id: Digest | None, where: str
) -> list[Problem]:
    d = str(desc.digest)
    out = [Problem(kind, d, where, f"{d}: {msg}") for kind, msg in result.findings]
    declared = mt.declared_compression(desc.media_type)
    if declared is None and desc.media_type != mt.LEGACY_LAYER:
        out.append(
            Problem(
                Kind.UNKNOWN_MEDIA_TYPE,
                d,
                where,
                f"{d}: unknown layer media type {desc.media_type}",
            )
        )
    elif declared is not None and declared is not result.compression:
        out.append(
            Problem(
                Kind.MEDIA_TYPE_MISMATCH,
                d,
                where,
                f"{d}: media type {desc.media_type} says {declared.value}, "
                f"content is {result.compression.value}",
            )
        )
    if diff_id is not None and result.diff_id is not None and result.diff_id != diff_id:
        out.append(
            Problem(
                Kind.DIFF_ID_MISMATCH,
                d,
                where,
                f"{d}: config diff_id {diff_id}, uncompressed content {result.diff_id}",
            )
        )
    return out


def _history_check(image: Image, where: str) -> list[Problem]:
    if image.config is None or not image.config.history:
        return []
    built = sum(1 for h in image.config.history if not h.empty_layer)
    if built == len(image.config.diff_ids):
        return []
    return [
        Problem(
            Kind.HISTORY_MISMATCH,
            str(image.config_descriptor.digest),
            where,
            f"history has {built} layer entries but the config lists "
            f"{len(image.config.diff_ids)} diff_ids",
        )
    ]


def _dedupe(problems: Iterable[Problem]) -> Iterator[Problem]:
    seen: set[tuple[Kind, str | None, str]] = set()
    for p in problems:  # a blob used by several images is reported once
        if (p.kind, p.digest, p.message) not in seen:
            seen.add((p.kind, p.digest, p.message))
            yield p
