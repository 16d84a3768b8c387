"""Verification: decide what to scan, scan every referenced blob exactly once, apply the rules.

This module alone decides how a blob is read (as a layer, sniffed, or only hashed); the
walker reads the bytes and ``checks`` judges them. Blobs are independent, so they are scanned in
parallel threads (hashlib and the decompressors release the GIL). Problems are collected, never
raised: one bad blob does not hide the others. A one-pass stream is scanned member by member
as it passes (``MemberScanner``), with the same walker and, afterwards, the same rules.
"""

from __future__ import annotations

import enum
import hashlib
import io
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO, TypeVar

from . import checks
from . import mediatypes as mt
from .compression import Readable
from .digest import Digest
from .errors import Kind, OciError, Problem, Severity, Unreadable, UnsafePath
from .model import Descriptor, Image, ManifestKind
from .record import record, replace
from .sources import open_export as _open_source
from .sources.base import Export
from .sources.detect import ROOT_NAMES
from .sources.tarball import KEEP_JSON, MemberReader, json_like
from .walker import BlobScan, ScanOptions, scan


@record
class Options:
    """``jobs``: blobs read in parallel threads. ``fast``: stored digests and sizes only,
    like ``crane validate --fast``. ``scan``: options handed to the walker."""

    jobs: int = 1
    fast: bool = False
    scan: ScanOptions = ScanOptions()


class Read(enum.Enum):
    """How one blob is read: as a layer (inflate, hash the tar, walk it), sniffed (a layer if
    it is compressed or a tar), or only hashed."""

    LAYER = "layer"
    SNIFF = "sniff"
    HASH = "hash"


WALKER_MODE: dict[Read, bool | None] = {Read.LAYER: True, Read.SNIFF: None, Read.HASH: False}


@record
class Verification:
    """The outcome of one verification. ``scans``: every referenced blob that was read, by
    digest; ``unreferenced``: members of a one-pass stream that nothing names (not an error)."""

    export: Export
    scans: dict[Digest, BlobScan]
    problems: tuple[Problem, ...]
    unreferenced: tuple[str, ...] = ()

    def ok(self, strict: bool = False) -> bool:
        return not any(p.fails(strict) for p in self.problems)

    def verified(self) -> set[Digest]:
        """Blobs read in full whose every check passed (a digest we cannot hash never is)."""
        bad = {p.digest for p in self.problems if p.severity is Severity.ERROR}
        return {d for d in self.scans if str(d) not in bad and d.hashable}


class _Counting:
    """Reports bytes read to a progress callback."""

    def __init__(self, raw: Readable, progress: Callable[[int], None]) -> None:
        self._raw, self._progress = raw, progress

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self._progress(len(data))
        return data

    # A file may be read again from its start (the walker's pulled zstd path falls back so):
    # progress then goes back by what is read again.
    def seekable(self) -> bool:
        seekable = getattr(self._raw, "seekable", None)
        return bool(seekable is not None and seekable())

    def tell(self) -> int:
        return int(self._raw.tell())  # type: ignore[attr-defined]

    def seek(self, pos: int) -> int:
        back = self.tell() - pos
        self._raw.seek(pos)  # type: ignore[attr-defined]
        self._progress(-back)
        return pos


# --- one-pass streams --------------------------------------------------------------------------

SPLIT_MIN = 4 << 20  # bytes: stream members smaller than this are scanned on one thread
SMALL_MEMBER = 64 << 10  # bytes: members up to this size are read whole, scans shared by content
_SEEN_MAX = 4096  # small-member scans remembered
_ROOT_FILES = frozenset(ROOT_NAMES)


class MemberScanner:
    """The member sink for a one-pass stream: scans every regular member as it passes.

    A member is read as a layer unless it is one of the export's root files: which descriptor
    names it (if any) is known only at the end of the stream, and a layer's checks must not
    depend on what its bytes look like. Non-layer blobs scanned so lose nothing: their stored
    digest and size are measured all the same, and the layer findings are used only for
    descriptors that name a layer. Small JSON documents are kept for the model.
    """

    def __init__(self, opts: ScanOptions, progress: Callable[[int], None] | None = None) -> None:
        self._opts = replace(opts, keep=KEEP_JSON)
        self._small = replace(self._opts, split=False)
        self._progress = progress
        self._seen: dict[tuple[str, bool, bytes], tuple[bytes | None, Any]] = {}

    def __call__(self, name: str, size: int, data: MemberReader) -> tuple[bytes | None, Any]:
        algorithm = "sha512" if name.startswith("blobs/sha512/") else "sha256"
        # --fast hashes only; but a file a legacy save's manifest.json may name as a layer
        # (<id>/layer.tar, <diff_id>.tar, crane's <hex>.tar.gz: anything outside blobs/ that
        # is not JSON) is read as a layer: its one claim, the diff_id, is on its uncompressed
        # bytes. A layer named by digest (under blobs/) is checked by that digest.
        legacy_layer = not name.startswith("blobs/") and not name.endswith(".json")
        layer = name not in _ROOT_FILES and (legacy_layer or not self._opts.hash_only)
        if size == 0 and (algorithm, layer, b"") in self._seen:  # no bytes to read or hash
            return self._seen[(algorithm, layer, b"")]
        stream: Readable = _Counting(data, self._progress) if self._progress else data
        if size <= SMALL_MEMBER:
            return self._small_member(stream, size, algorithm, layer)
        # A second thread pays for itself on large members only (starting one costs more
        # than hashing and walking a small member).
        opts = self._opts if size >= SPLIT_MIN else self._small
        return self._kept(scan(stream, algorithm, layer=layer, opts=opts))

    def _small_member(
        self, stream: Readable, size: int, algorithm: str, layer: bool
    ) -> tuple[bytes | None, Any]:
        """A small member's scan, remembered by its content: a stream of a million identical
        small members (empty files, say) is walked once, not a million times."""
        data = stream.read(size)
        while len(data) < size and (more := stream.read(size - len(data))):
            data += more
        key = (algorithm, layer, hashlib.new(algorithm, data).digest() if data else b"")
        known = self._seen.get(key)
        if known is None:
            if len(self._seen) >= _SEEN_MAX:
                self._seen.clear()
            known = self._seen[key] = self._kept(
                scan(io.BytesIO(data), algorithm, layer=layer, opts=self._small)
            )
        return known

    @staticmethod
    def _kept(result: BlobScan) -> tuple[bytes | None, Any]:
        content = result.content if json_like(result.content) else None
        return content, replace(result, content=None)


def open_export(
    path: str,
    *,
    scan_stream: bool = True,
    opts: ScanOptions = ScanOptions(),
    progress: Callable[[int], None] | None = None,
    stdin: BinaryIO | None = None,
) -> Export:
    """Open an export for verification: as ``sources.open_export``, and with ``scan_stream``
    (the default) a one-pass input has each member scanned as it passes, which verifying it
    needs; without, a stream's blobs are not read and ``verify`` reports them unscanned."""
    sink = MemberScanner(opts, progress) if scan_stream else None
    return _open_source(path, sink=sink, stdin=stdin)


def inspect(export: Export) -> Export:
    """The export with every rule that needs no blob read applied (``checks``): its model's
    problems are then the same metadata problems ``verify`` reports."""
    return checks.with_metadata_problems(export)


# --- planning and scanning ---------------------------------------------------------------------


Job = tuple[Digest, str]  # a blob and the storage name it is read from
Outcome = tuple[Job, BlobScan | None, Problem | None]  # one job's scan, or why it failed
_T = TypeVar("_T")
_R = TypeVar("_R")


def plan(export: Export, images: tuple[Image, ...], fast: bool) -> dict[Job, Read]:
    """Every blob to read once, and how. Decided from descriptors alone: a known layer media
    type, or a layer named by its diff_id, is read as a layer; an unknown media type in a
    runnable image is sniffed; anything else is hashed. ``fast`` hashes only, but for a layer
    named by its diff_id (legacy save), whose one claim needs it read as a layer. Metadata
    blobs were read (and recorded) while loading. A layer named by a digest we cannot hash is
    still read as a layer: its size, diff_id and tar are checked all the same."""
    jobs: dict[Job, Read] = {}
    rank = {Read.HASH: 0, Read.SNIFF: 1, Read.LAYER: 2}
    for image in images:
        for desc in (image.config_descriptor, *image.layers):
            if desc is image.config_descriptor:
                if desc.digest in export.observed:
                    continue  # read and recorded while loading
                how = Read.HASH
            elif fast and not desc.digest_is_diff_id:
                how = Read.HASH  # a legacy layer's one claim, its diff_id, needs it inflated
            else:
                how = _layer_read(image, desc)
            if not desc.digest.hashable and how is Read.HASH:
                continue  # nothing to check: unverifiable_digest says so
            job = (desc.digest, checks.location(export, desc))
            if job not in jobs or rank[how] > rank[jobs[job]]:
                jobs[job] = how
    return jobs


def _layer_read(image: Image, desc: Descriptor) -> Read:
    if mt.is_layer(desc.media_type) or desc.digest_is_diff_id:
        return Read.LAYER
    return Read.SNIFF if image.kind is ManifestKind.IMAGE else Read.HASH


def verify(
    export: Export,
    opts: Options = Options(),
    progress: Callable[[int], None] | None = None,
    images: tuple[Image, ...] | None = None,
) -> Verification:
    """Verify ``images`` (default: every image and every absent manifest of the export)."""
    planned = prepare(export, opts, images)

    def run(item: tuple[Job, Read]) -> Outcome:
        return scan_job(export, item, planned.opts, progress)

    items = _largest_first(planned.images, planned.jobs)
    return conclude(planned, _map(run, items, planned.opts.jobs))


@record
class Planned:
    """One export's verification before any blob is read: the images chosen, every blob to
    read and how (``jobs``), the metadata problems found, and the options the scans use."""

    export: Export
    images: tuple[Image, ...]
    jobs: dict[Job, Read]
    problems: tuple[Problem, ...]
    opts: Options


def prepare(
    export: Export, opts: Options = Options(), images: tuple[Image, ...] | None = None
) -> Planned:
    """Plan the verification of ``images`` (default: all, and every absent manifest); the
    blobs can then be read by any executor and handed to ``conclude``."""
    chosen = export.model.images if images is None else images
    jobs = plan(export, chosen, opts.fast)
    problems = [*export.model.problems, *checks.metadata_problems(export, chosen, images is None)]
    # More threads than layers to read: give each layer a second thread of its own.
    layers = sum(1 for how in jobs.values() if how is not Read.HASH)
    opts = replace(opts, scan=replace(opts.scan, split=opts.jobs > layers))
    return Planned(export, chosen, jobs, tuple(problems), opts)


def conclude(planned: Planned, outcomes: Iterable[Outcome]) -> Verification:
    """The verification from the outcome of every job of ``planned``, in the order given
    (problems keep that order: give it deterministically)."""
    export, chosen, jobs = planned.export, planned.images, planned.jobs
    problems = list(planned.problems)
    scans: dict[Digest, BlobScan] = {}
    located: dict[Job, BlobScan] = {}
    for job, result, problem in outcomes:
        if result is not None:
            located[job] = result
            primary = export.locations.get(job[0], job[0].blob_path)
            if job[1] == primary or job[0] not in scans:  # the layout's copy of the digest
                scans[job[0]] = result
        if problem is not None:
            problems.append(problem)
    for image in chosen:
        problems += _scan_rules(export, image, located, jobs)
    return Verification(export, scans, tuple(checks.dedupe(problems)), _unreferenced(export))


def _scan_rules(
    export: Export, image: Image, located: dict[Job, BlobScan], jobs: dict[Job, Read]
) -> list[Problem]:
    """The rules on what each of the image's blobs, read from its own storage name, holds."""
    where = image.name
    out: list[Problem] = []
    config_job = (image.config_descriptor.digest, checks.location(export, image.config_descriptor))
    config = located.get(config_job)
    if config is not None:
        out += checks.scanned_blob_problems(image.config_descriptor, config, where)
    diff_ids = image.config.diff_ids if image.config else ()
    for i, desc in enumerate(image.layers):
        job = (desc.digest, checks.location(export, desc))
        result = located.get(job)
        if result is None:
            continue
        out += checks.scanned_blob_problems(desc, result, where)
        how = jobs.get(job)
        diff_id = diff_ids[i] if i < len(diff_ids) else None
        if _read_as_layer(how, result):
            out += checks.layer_problems(desc, result, diff_id, where)
        elif how is Read.SNIFF:  # not a layer after all: its bytes are still its diff_id
            out += checks.untarred_problems(desc, result, diff_id, where)
        elif desc.digest_is_diff_id:  # hashed only (--fast, from a stream)
            out += checks.layer_problems(desc, result, None, where)
    return out


def _read_as_layer(how: Read | None, result: BlobScan) -> bool:
    if how is Read.LAYER or result.unsupported is not None:  # xz/bzip2: never "not a layer"
        return True
    return how is Read.SNIFF and (
        result.tar is not None or result.compression is not mt.Compression.NONE
    )


def scan_job(
    export: Export, item: tuple[Job, Read], opts: Options, progress: Callable[[int], None] | None
) -> Outcome:
    """Scan one blob; a failure to read it becomes a problem, never an exception."""
    job, how = item
    digest, name = job
    try:
        return job, _scan_one(export, name, digest, how, opts, progress), None
    except (OciError, OSError) as exc:
        return job, None, read_problem(exc, str(digest), f"{export.path}: {name}")


def read_problem(exc: OciError | OSError, digest: str, where: str) -> Problem:
    """The problem a failed read of blob ``digest`` (stored at ``where``) is."""
    if isinstance(exc, UnsafePath):
        return Problem(Kind.BLOB_OUTSIDE_EXPORT, digest, exc.where, exc.problem)
    if isinstance(exc, Unreadable):
        return Problem(Kind.UNREADABLE_BLOB, digest, exc.where, exc.problem)
    if isinstance(exc, OciError):
        return Problem(Kind.BAD_METADATA, digest, exc.where, exc.problem)
    return Problem(Kind.UNREADABLE_BLOB, digest, where, exc.strerror or str(exc))


def _scan_one(
    export: Export,
    name: str,
    digest: Digest,
    how: Read,
    opts: Options,
    progress: Callable[[int], None] | None,
) -> BlobScan | None:
    storage = export.storage
    if export.streamed:
        member = storage.canonical(name)
        if member is None:
            return None
        result = export.streamed.get(member)
        if not isinstance(result, BlobScan):  # opened without a MemberScanner: never an OK
            raise OciError(f"{export.path}: {name}", "this stream member was not scanned")
        return result
    opened = storage.open_sized(name)  # one open: the file checked is the file read
    if opened is None:
        return None
    algorithm = digest.algorithm if digest.hashable else "sha256"  # stored hash unused then
    with opened[0] as raw:
        stream: Readable = _Counting(raw, progress) if progress else raw
        return scan(stream, algorithm, layer=WALKER_MODE[how], opts=opts.scan)


def schedule(planned: Planned) -> list[tuple[Job, Read]]:
    """Every job of ``planned`` in the order ``verify`` reads them (largest layer first).
    ``conclude`` handed the outcomes in this order reports the problems as ``verify`` does,
    whatever order a caller read the blobs in (``diff`` reads them pair by pair)."""
    return _largest_first(planned.images, planned.jobs)


Work = tuple[Export, tuple[Job, Read], Options]  # a job of some export, and its scan options


def scan_jobs(
    work: list[Work], threads: int, progress: Callable[[int], None] | None = None
) -> list[Outcome]:
    """Scan each job of ``work`` (jobs of one or several exports, each with its own options)
    on ``threads`` threads, as ``verify`` does; the outcomes in the order given. For a caller
    that reads an export's blobs in batches of its own, then hands every outcome to
    ``conclude``."""

    def run(item: Work) -> Outcome:
        return scan_job(item[0], item[1], item[2], progress)

    return list(_map(run, work, threads))


def _largest_first(images: tuple[Image, ...], jobs: dict[Job, Read]) -> list[tuple[Job, Read]]:
    sizes = {d.digest: d.size for img in images for d in img.layers}
    return sorted(jobs.items(), key=lambda kv: -sizes.get(kv[0][0], 0))


def _unreferenced(export: Export) -> tuple[str, ...]:
    """Stream members that no descriptor and no root file names. Docker's legacy per-layer
    ``json`` and ``VERSION`` files are part of the format, not strays."""
    if not export.streamed:
        return ()
    located = (d.location for i in export.model.images for d in i.layers if d.location)
    named = {export.storage.canonical(n) for n in (*export.locations.values(), *located)}
    named |= set(export.metadata_names)
    return tuple(
        sorted(
            m
            for m in export.streamed
            if m not in named and m.rsplit("/", 1)[-1] not in ("json", "VERSION")
        )
    )


def _map(fn: Callable[[_T], _R], items: list[_T], jobs: int) -> Iterator[_R]:
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

    started = 0
    for _ in range(min(jobs, len(items))):
        try:
            threading.Thread(target=work, daemon=True).start()
        except RuntimeError:  # the system grants no more threads: run with those started
            break
        started += 1
    if not started:
        work()  # not even one: the caller's thread does the work
    for i, event in enumerate(ready):
        event.wait()
        ok, value = results[i]
        if not ok:
            raise value
        yield value
