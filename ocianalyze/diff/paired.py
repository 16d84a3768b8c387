"""``diff`` read pair by pair: memory bounded by one pair's files, not by both exports' images.

Verifying each export whole before comparing keeps the entry table of every layer of every
image of both exports alive at once (a 20-platform index: 40 images' tables). Here each export
is planned as ``verify`` plans it (``verify.prepare``: the same jobs, each blob read once),
then, pair by pair in the pairing order, the layers of that pair not read yet are scanned (in
parallel, as ``verify`` does), the pair is compared, and the entry table of every layer no
later pair uses is dropped (a layer shared by several images lives until its last pair).
Blobs no pair uses (images added or removed, attestations, signatures, configs) are read last,
verified all the same but without entry tables. Every outcome is then handed to
``verify.conclude`` in ``verify``'s own order, so the problems (and every output) are those
of a whole verification.

An export read from a stream (``-``, a tarball compressed whole) is scanned member by member
while it is opened, before any pairing is known: its tables are all alive at once, as before.
"""

from __future__ import annotations

from collections.abc import Callable

from ..digest import Digest
from ..model import Image
from ..record import replace
from ..sources.base import Export
from ..verify import Job, Options, Outcome, Read, Verification, Work, conclude, prepare, scan_jobs
from ..verify import schedule as verify_order
from ..walker import BlobScan
from . import assemble, compare_image, pairing
from .result import ExportDiff, ImageDiff


class _Side:
    """One export's reading: its plan (``verify.prepare``), every job in ``verify``'s order,
    the outcome of every job read so far (by job), and the last pair that needs each job."""

    __slots__ = ("export", "last", "lean", "order", "outcomes", "planned", "sizes")

    def __init__(self, export: Export, opts: Options, images: list[Image]) -> None:
        self.export = export
        self.planned = prepare(export, opts)
        self.order = verify_order(self.planned)
        scan = replace(self.planned.opts.scan, collect_entries=False, hash_files=False)
        self.lean = replace(self.planned.opts, scan=scan)  # for blobs no pair uses
        self.outcomes: dict[Job, Outcome] = {}
        self.sizes = {d.digest: d.size for i in self.planned.images for d in i.layers}
        self.last: dict[Job, int] = {}
        for n, image in enumerate(images):
            for job, _ in self.jobs_of(image):
                self.last[job] = n

    def jobs_of(self, image: Image) -> list[tuple[Job, Read]]:
        """The jobs reading the image's layers (every storage name of each), in verify order."""
        digests = {d.digest for d in image.layers}
        return [item for item in self.order if item[0][0] in digests]

    def scans(self, image: Image) -> dict[Digest, BlobScan]:
        """The scans of the image's layers by digest, picked as ``verify.conclude`` picks
        them: the layout's own copy of a digest, else the first read in verify order."""
        digests = {d.digest for d in image.layers}
        out: dict[Digest, BlobScan] = {}
        for job, _ in self.order:
            outcome = self.outcomes.get(job)
            if job[0] not in digests or outcome is None or outcome[1] is None:
                continue
            primary = self.export.locations.get(job[0], job[0].blob_path)
            if job[1] == primary or job[0] not in out:
                out[job[0]] = outcome[1]
        return out

    def forget(self, pair: int) -> None:
        """Drop the entry table of every job whose last pair is ``pair``."""
        for job, last in self.last.items():
            outcome = self.outcomes.get(job)
            if last == pair and outcome is not None and outcome[1] is not None:
                lean = replace(outcome[1], entries=None)
                self.outcomes[job] = (job, lean, outcome[2])

    def rest(self) -> list[Work]:
        """The jobs not read yet, without entry tables."""
        todo = (item for item in self.order if item[0] not in self.outcomes)
        return [(self.export, item, self.lean) for item in todo]

    def verification(self) -> Verification:
        """The whole export's verification, from every outcome, in verify order."""
        return conclude(self.planned, (self.outcomes[job] for job, _ in self.order))


def _read(
    batch: list[tuple[_Side, Work]], threads: int, progress: Callable[[int], None] | None
) -> None:
    """Scan a batch (jobs of either side), largest first, and record each outcome. As
    ``verify.prepare`` decides for a whole export: a layer gets a second thread of its own
    only when there are more threads than layers in the batch."""
    batch.sort(key=lambda sw: -sw[0].sizes.get(sw[1][1][0][0], 0))
    split = threads > sum(1 for _, (_, (_, how), _) in batch if how is not Read.HASH)
    work = [(x, item, _split(opts, split)) for _, (x, item, opts) in batch]
    outcomes = scan_jobs(work, threads, progress)
    for (side, _), outcome in zip(batch, outcomes, strict=True):
        side.outcomes[outcome[0]] = outcome


def _split(opts: Options, split: bool) -> Options:
    if opts.scan.split == split:
        return opts
    return replace(opts, scan=replace(opts.scan, split=split))


def _pair(
    n: int,
    images: tuple[Image, Image],
    sides: tuple[_Side, _Side],
    threads: int,
    progress: Callable[[int], None] | None,
) -> ImageDiff:
    """Read the layers of pair ``n`` not read yet, compare it, forget what no later pair needs."""
    batch = [
        (side, (side.export, item, side.planned.opts))
        for side, image in zip(sides, images, strict=True)
        for item in side.jobs_of(image)
        if item[0] not in side.outcomes
    ]
    _read(batch, threads, progress)
    ov, nv = (Verification(s.export, s.scans(i), ()) for s, i in zip(sides, images, strict=True))
    result = compare_image(images[0], images[1], ov, nv)
    for side in sides:
        side.forget(n)
    return result


def diff_by_pairs(
    old: Export,
    new: Export,
    opts: Options,
    *,
    chosen: tuple[Image, Image] | None = None,
    platform: str | None = None,
    held: set[str] | None = None,
    top: int = 10,
    progress: Callable[[int], None] | None = None,
) -> tuple[ExportDiff, Verification, Verification]:
    """``diff_exports`` of the two exports and their whole verifications (each as ``verify``
    gives it), reading pair by pair: at most the entry tables of one pair, plus those of
    shared layers a later pair needs, are alive at once. ``opts``: as for ``verify``, with
    ``ScanOptions(collect_entries=True, hash_files=True)`` for the file level; ``progress``
    gets the bytes read. The other arguments are ``diff_exports``'s."""
    paired = pairing(old, new, chosen, platform)
    pairs = paired[0]
    sides = (
        _Side(old, opts, [o for o, _ in pairs]),
        _Side(new, opts, [n for _, n in pairs]),
    )
    images = [_pair(n, p, sides, opts.jobs, progress) for n, p in enumerate(pairs)]
    _read([(side, work) for side in sides for work in side.rest()], opts.jobs, progress)
    ov, nv = (side.verification() for side in sides)
    return assemble(old, new, paired, images, held, top), ov, nv
