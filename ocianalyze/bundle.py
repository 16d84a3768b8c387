"""Many exports at once: one schedule of every blob of every export, each stored file read once.

Each export is opened and planned as ``verify`` plans one (``verify.prepare``); then every blob
to read becomes a ``ScanTask`` that names it by a *locator* (a file beneath an export directory,
or a span of a tar file), with no process-local state, so any executor can run it: threads
here, or the workers of a Dask cluster (``distributed``). A file several exports share (the
same device and inode: a layout whose images share ``blobs/``, hardlinked copies, one tarball
given twice) is read once and its scan serves every export; copies in different files are each
read, since each copy is what will be imported. Tasks run largest first. One-pass streams
(standard input, a tarball compressed as a whole) were scanned while they were opened, on this
machine: they never become tasks. The outcomes are then handed back to each export in the
order ``verify`` itself uses (``verify.conclude``), so the verdicts and figures are the same
whichever executor ran the tasks and in whatever order they finished.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import BinaryIO

from .analysis import DEFAULT_TOP, Report, summarize
from .errors import OciError, Problem
from .record import field, record, replace
from .sources.base import Export
from .sources.dirstorage import DirStorage
from .sources.tarball import TarStorage
from .verify import (
    WALKER_MODE,
    Job,
    Options,
    Outcome,
    Planned,
    Read,
    conclude,
    prepare,
    read_problem,
    scan_job,
)
from .verify import open_export as open_for_verify
from .walker import BlobScan, ScanOptions, scan


@record
class Locator:
    """Where one blob's bytes are, named so that any machine seeing the same paths can read
    them. Without ``span``: the file ``name`` beneath the export directory ``root``, opened as
    ``DirStorage`` opens it (one component at a time, never leaving the root). With ``span``
    = (offset, length) in bytes: that part of the tar file ``root`` (``name`` is then the
    member's name, for messages). ``root`` is an absolute path."""

    root: str
    name: str
    span: tuple[int, int] | None = None


@record
class ScanTask:
    """One blob's scan, pure and picklable: where the bytes are, how to read them
    (``verify.Read``), the hash algorithm of the stored bytes and the walker's options.
    ``export``: the export's path as the user gave it (messages name it); ``size``: the bytes
    to read (the file's or span's length), for scheduling and progress."""

    export: str
    locator: Locator
    algorithm: str
    read: Read
    opts: ScanOptions
    size: int


@record
class TaskResult:
    """What a task gave: the scan (None when the export does not hold the blob, or the read
    failed) and, when the read failed, the problem (its ``digest`` is filled per use)."""

    scan: BlobScan | None
    problem: Problem | None = None


class _Span:
    """``length`` bytes of the file ``path`` from ``offset``."""

    def __init__(self, path: str, offset: int, length: int) -> None:
        self._f: BinaryIO = open(path, "rb", buffering=0)  # noqa: SIM115
        self._f.seek(offset)
        self._left = length

    def read(self, n: int = -1) -> bytes:
        n = self._left if n < 0 else min(n, self._left)
        data = self._f.read(n) if n else b""
        self._left -= len(data)
        return data

    def __enter__(self) -> _Span:
        return self

    def __exit__(self, *exc: object) -> None:
        self._f.close()


def scan_task(task: ScanTask) -> BlobScan | None:
    """Read and scan the blob ``task`` names; None when the export does not hold it.

    Raises ``UnsafePath`` (the name leads outside the export), ``Unreadable`` or ``OSError``
    (the file system refused the read). No state outlives the call."""
    loc = task.locator
    layer = WALKER_MODE[task.read]
    if loc.span is not None:
        with _Span(loc.root, *loc.span) as span:
            return scan(span, task.algorithm, layer=layer, opts=task.opts)
    with DirStorage(Path(loc.root), task.export) as storage:
        opened = storage.open_sized(loc.name)  # the stream outlives the root descriptor
    if opened is None:
        return None
    with opened[0] as raw:
        return scan(raw, task.algorithm, layer=layer, opts=task.opts)


def run_task(task: ScanTask) -> TaskResult:
    """``scan_task``, with a failure to read turned into the blob's problem (never raised):
    what an executor runs, on this machine or on a worker that cannot open the path."""
    try:
        return TaskResult(scan_task(task))
    except (OciError, OSError) as exc:
        return TaskResult(None, read_problem(exc, "", f"{task.export}: {task.locator.name}"))


# An executor runs tasks and yields (index of the task, its result) as each one finishes.
Executor = Callable[[Sequence[ScanTask]], Iterator[tuple[int, TaskResult]]]


def threads(jobs: int) -> Executor:
    """The local executor: ``jobs`` threads (hashlib and the decompressors release the GIL)."""

    def run(tasks: Sequence[ScanTask]) -> Iterator[tuple[int, TaskResult]]:
        if jobs <= 1:
            yield from ((i, run_task(t)) for i, t in enumerate(tasks))
            return
        pool = ThreadPoolExecutor(jobs, thread_name_prefix="scan")
        try:
            pending: dict[Future[TaskResult], int] = {
                pool.submit(run_task, t): i
                for i, t in enumerate(tasks)  # FIFO: largest first
            }
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield pending.pop(future), future.result()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    return run


# --- planning across exports ------------------------------------------------------------------


class Verdict(str, enum.Enum):
    """One export's verdict, mildest first: every blob verified, a verification failed, or
    the export itself cannot be read (the CLI maps these to exit codes 0, 1 and 2)."""

    OK = "ok"
    FAILED = "failed"
    UNREADABLE = "unreadable"


@record
class Entry:
    """One export of the bundle: its report, or why it cannot be read (one line)."""

    path: str
    report: Report | None
    error: str | None = None
    blobs: int = 0  # blobs read for it (each scan counted once per export)
    bytes: int = 0  # their stored bytes
    local_only: bool = False  # a one-pass stream: scanned on this machine, never by a worker

    @property
    def verdict(self) -> Verdict:
        if self.report is None:
            return Verdict.UNREADABLE
        return Verdict.OK if self.report.ok else Verdict.FAILED


@record
class Bundle:
    """The outcome of a bundle: one entry per path given (same order), and what was read:
    ``tasks`` distinct reads (files or spans) of ``bytes_read`` bytes, for ``uses`` blob reads
    asked by the exports' plans (``uses - tasks`` reads were saved by sharing)."""

    entries: tuple[Entry, ...]
    tasks: int
    bytes_read: int
    uses: int

    @property
    def verdict(self) -> Verdict:
        order = list(Verdict)
        return max((e.verdict for e in self.entries), key=order.index, default=Verdict.OK)


class _Local(Exception):
    """The blob is read on this machine (a one-pass stream, or a storage without locators)."""


@record(frozen=False)
class _Schedule:
    tasks: list[ScanTask] = field(default_factory=list)
    uses: list[list[tuple[int, Job]]] = field(default_factory=list)
    known: dict[tuple[int, Job], Outcome] = field(default_factory=dict)
    local: list[tuple[int, Job, Read]] = field(default_factory=list)
    index: dict[tuple[object, ...], int] = field(default_factory=dict)

    def add(self, key: tuple[object, ...], task: ScanTask, use: tuple[int, Job]) -> None:
        at = self.index.get(key)
        if at is None:
            at = self.index[key] = len(self.tasks)
            self.tasks.append(task)
            self.uses.append([])
        self.uses[at].append(use)


def _locate(export: Export, name: str) -> tuple[Locator, tuple[object, ...], int] | None:
    """The locator of ``name``, the identity of the bytes (device, inode, and for a tar its
    span) and its size in bytes; None when the export does not hold it. Raises ``_Local``
    for a storage that only this process can read, OciError/OSError when the file system
    refuses (the task then meets the same refusal and reports it)."""
    storage = export.storage
    if isinstance(storage, DirStorage):
        opened = storage.open_sized(name)
        if opened is None:
            return None
        with opened[0] as f:
            st = os.fstat(f.fileno())
        return Locator(str(storage.root), name), ("file", st.st_dev, st.st_ino), opened[1]
    if isinstance(storage, TarStorage) and not export.streamed:
        span = storage.span(name)
        if span is None:
            return None
        member, offset, size = span
        tar = Path(storage.path).absolute()
        st = tar.stat()
        key = ("span", st.st_dev, st.st_ino, offset, size)
        return Locator(str(tar), member, (offset, size)), key, size
    raise _Local


def _refused(export: Export, name: str) -> Locator:
    """A locator for a blob whose file could not be looked at: the task tries it again."""
    storage = export.storage
    if isinstance(storage, DirStorage):
        return Locator(str(storage.root), name)
    tar = str(Path(storage.path if isinstance(storage, TarStorage) else export.path).absolute())
    return Locator(tar, name, (0, 0))


def schedule(planned: Sequence[Planned], scan_opts: ScanOptions) -> _Schedule:
    """Every read the plans ask for, shared by identity, largest first."""
    out = _Schedule()
    for i, p in enumerate(planned):
        _add(out, i, p, scan_opts)
    return _largest_first(out)


def _add(out: _Schedule, i: int, p: Planned, scan_opts: ScanOptions) -> None:
    """The reads of export ``i``'s plan ``p``, added to ``out`` (its storage must be open)."""
    export = p.export
    for job, how in p.jobs.items():
        digest, name = job
        algorithm = digest.algorithm if digest.hashable else "sha256"
        try:
            found = _locate(export, name)
        except _Local:
            out.local.append((i, job, how))
            continue
        except (OciError, OSError):  # the task meets the refusal again and names it
            refused: tuple[object, ...] = ("refused", i, name)
            locator, key, size = _refused(export, name), refused, 0
        else:
            if found is None:  # not in the export: missing_blob comes from the metadata
                out.known[(i, job)] = (job, None, None)
                continue
            locator, key, size = found
        task = ScanTask(export.path, locator, algorithm, how, scan_opts, size)
        out.add((*key, how, algorithm), task, (i, job))


def _largest_first(out: _Schedule) -> _Schedule:
    order = sorted(range(len(out.tasks)), key=lambda t: -out.tasks[t].size)
    out.tasks = [out.tasks[t] for t in order]
    out.uses = [out.uses[t] for t in order]
    return out


def _use(result: TaskResult, task: ScanTask, export: Export, job: Job) -> Outcome:
    """A task's result as the outcome of one export's job: a failure names that export."""
    problem = result.problem
    if problem is not None:
        path = problem.path
        if path == f"{task.export}: {task.locator.name}":  # the task's file, as the task saw it:
            path = f"{export.path}: {job[1]}"  # this export's own name for it, as verify gives
        elif export.path != task.export and path.startswith(task.export):
            path = export.path + path[len(task.export) :]
        problem = replace(problem, digest=str(job[0]), path=path)
    return job, result.scan, problem


def _ordered(p: Planned, outcomes: dict[Job, Outcome]) -> list[Outcome]:
    """The outcomes in the order ``verify`` gives them (largest layer first)."""
    sizes = {d.digest: d.size for img in p.images for d in img.layers}
    jobs = sorted(p.jobs, key=lambda job: -sizes.get(job[0], 0))
    return [outcomes[job] for job in jobs if job in outcomes]


@record
class Run:
    """How to run a bundle: ``opts`` as for one export (on a cluster, ``jobs=1``: a task then
    never splits onto a second thread); ``executor`` runs the tasks (default: ``opts.jobs``
    threads); ``top`` and ``strict`` as for ``analysis.summarize``."""

    opts: Options
    executor: Executor | None = None
    top: int = DEFAULT_TOP
    strict: bool = False


def verify_bundle(
    paths: Sequence[str],
    run: Run,
    progress: Callable[[int], None] | None = None,
    total: Callable[[int], None] | None = None,
) -> Bundle:
    """Open, plan, scan (each stored file once, largest first) and conclude every export.

    ``progress`` gets the bytes read as they are read (streams, while opening) or as each
    task finishes; ``total`` gets the bytes all tasks will read, once they are planned. An
    export that cannot be opened is an entry with its error, not an exception."""
    opened: list[tuple[int, Export]] = []
    planned: list[Planned] = []
    errors: dict[int, str] = {}
    plan = _Schedule()
    for i, path in enumerate(paths):
        try:
            export = open_for_verify(path, opts=run.opts.scan, progress=progress)
        except OciError as exc:
            errors[i] = f"{exc.where}: {exc.problem}"
            continue
        except OSError as exc:
            errors[i] = f"{exc.filename or path}: {exc.strerror or exc}"
            continue
        try:  # planned and located now, so that one export directory at most is open at once
            planned.append(prepare(export, run.opts))
            _add(plan, len(opened), planned[-1], run.opts.scan)
        finally:
            if isinstance(export.storage, DirStorage):  # every locator is a path now
                export.storage.close()
        opened.append((i, export))
    layers = sum(1 for p in planned for how in p.jobs.values() if how is not Read.HASH)
    scan_opts = replace(run.opts.scan, split=run.opts.jobs > layers)
    plan.tasks = [replace(t, opts=scan_opts) for t in plan.tasks]
    plan = _largest_first(plan)
    if total is not None:
        total(sum(t.size for t in plan.tasks))
    outcomes: list[dict[Job, Outcome]] = [{} for _ in planned]
    for (i, job), outcome in plan.known.items():
        outcomes[i][job] = outcome
    local_opts = replace(run.opts, scan=scan_opts)
    for i, job, how in plan.local:
        outcomes[i][job] = scan_job(planned[i].export, (job, how), local_opts, None)
    executor = run.executor or threads(run.opts.jobs)
    for t, result in executor(plan.tasks):
        task = plan.tasks[t]
        for i, job in plan.uses[t]:
            outcomes[i][job] = _use(result, task, planned[i].export, job)
        if progress is not None:
            progress(task.size)
    reports = [
        summarize(conclude(p, _ordered(p, o)), top=run.top, strict=run.strict)
        for p, o in zip(planned, outcomes, strict=True)
    ]
    return Bundle(
        _entries(paths, opened, reports, errors, outcomes),
        tasks=len(plan.tasks),
        bytes_read=sum(t.size for t in plan.tasks),
        uses=sum(len(u) for u in plan.uses),
    )


def _entries(
    paths: Sequence[str],
    opened: list[tuple[int, Export]],
    reports: list[Report],
    errors: dict[int, str],
    outcomes: list[dict[Job, Outcome]],
) -> tuple[Entry, ...]:
    by_index: dict[int, Entry] = {}
    for (i, export), report, done in zip(opened, reports, outcomes, strict=True):
        scans = [o[1] for o in done.values() if o[1] is not None]
        by_index[i] = Entry(
            export.path,
            report,
            blobs=len(scans),
            bytes=sum(s.size for s in scans),
            local_only=bool(export.streamed),
        )
    for i, error in errors.items():
        by_index[i] = Entry(paths[i], None, error)
    return tuple(by_index[i] for i in range(len(paths)))


def iter_problems(b: Bundle) -> Iterable[tuple[str, Problem]]:
    """Every problem of every export, with the export's path."""
    for e in b.entries:
        if e.report is not None:
            for p in e.report.problems:
                yield e.path, p


# --- rendering (pure: the bundle and what the CLI measured in, text out) -----------------------


@record
class RunInfo:
    """How the bundle ran, as the CLI saw it: ``executor`` "threads" or "dask", the
    ``scheduler`` asked for (None: threads), ``workers`` (threads or Dask worker processes),
    wall ``seconds``. The only part of the JSON that differs between executors."""

    executor: str
    scheduler: str | None
    workers: int
    seconds: float


_HEAD = ("export", "images", "blobs", "bytes", "verdict", "problems")


def _row(e: Entry) -> dict[str, object]:
    r = e.report
    return {
        "path": e.path,
        "images": len(r.model.images) if r else 0,
        "blobs": e.blobs,
        "bytes": e.bytes,
        "verdict": e.verdict.value,
        "problems": len(r.problems) if r else 1,
    }


def _local_only(b: Bundle) -> list[str]:
    return [e.path for e in b.entries if e.local_only]


def bundle_doc(b: Bundle, info: RunInfo) -> dict[str, object]:
    """The JSON document of many exports (see the README): ``exports`` (one per path, the
    document ``verify --format json`` gives for one; for an export that cannot be read,
    ``source``, ``ok`` false and ``error``), ``summary`` (the table and the reads) and
    ``run`` (how it ran: executor, workers, seconds, exports read on this machine)."""
    from .report.json import SCHEMA_VERSION, report_doc

    exports: list[dict[str, object]] = [
        report_doc(e.report)
        if e.report is not None
        else {"source": {"path": e.path, "format": None}, "ok": False, "error": e.error}
        for e in b.entries
    ]
    rows = [_row(e) for e in b.entries]
    summary = {
        "exports": len(b.entries),
        "verdict": b.verdict.value,
        "ok": b.verdict is Verdict.OK,
        **{k: sum(int(str(r[k])) for r in rows) for k in ("images", "blobs", "bytes", "problems")},
        "reads": {"tasks": b.tasks, "bytes": b.bytes_read, "shared": b.uses - b.tasks},
        "rows": rows,
    }
    run = {
        "executor": info.executor,
        "scheduler": info.scheduler,
        "workers": info.workers,
        "seconds": round(info.seconds, 3),
        "local_only": _local_only(b) if info.executor != "threads" else [],
    }
    return {"schema_version": SCHEMA_VERSION, "exports": exports, "summary": summary, "run": run}


def bundle_json(b: Bundle, info: RunInfo) -> str:
    from .report.json import render

    return render(bundle_doc(b, info))


def bundle_table(b: Bundle, info: RunInfo) -> str:
    """The summary table (export, images, blobs, bytes, verdict, problems), the totals,
    and a note for each export a cluster run read on this machine."""
    from .report.escape import printable
    from .report.units import human

    rows = [_row(e) for e in b.entries]
    cells = [
        [
            printable(str(r["path"])),
            str(r["images"]),
            str(r["blobs"]),
            human(int(str(r["bytes"]))),
            str(r["verdict"]).upper(),
            str(r["problems"]),
        ]
        for r in rows
    ]
    table = [[h.upper() for h in _HEAD], *cells]
    widths = [max(len(row[c]) for row in table) for c in range(len(_HEAD))]
    lines = [
        "  ".join(
            v.ljust(w) if c in (0, 4) else v.rjust(w)
            for c, (v, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in table
    ]
    counts = {v: sum(1 for e in b.entries if e.verdict is v) for v in Verdict}
    lines.append(
        f"{len(b.entries)} exports: {counts[Verdict.OK]} ok, {counts[Verdict.FAILED]} failed, "
        f"{counts[Verdict.UNREADABLE]} unreadable; {b.tasks} reads of {human(b.bytes_read)}"
        f" ({b.uses - b.tasks} shared)"
    )
    if info.executor != "threads":
        lines += [
            f"note: {printable(p)}: a one-pass stream, read on this machine, not by the cluster"
            for p in _local_only(b)
        ]
    return "\n".join(lines) + "\n"


def bundle_text(b: Bundle, info: RunInfo, each: Callable[[Report], str] | None = None) -> str:
    """``verify``'s text for many exports: every problem (with its export) and every export
    that cannot be read, then the table. With ``each`` (``report``'s renderer), each
    export's own report comes first instead of the problem lines."""
    from .report.escape import printable

    out: list[str] = []
    for e in b.entries:
        if e.report is None:
            out.append(f"{printable(e.error or e.path)}\n")
        elif each is not None:
            out.append(each(e.report) + "\n")
        else:
            out += [f"{printable(e.path)}: {printable(p.line())}\n" for p in e.report.problems]
    return "".join(out) + bundle_table(b, info)
