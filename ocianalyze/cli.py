"""The command line: argument parsing, progress bars and exit codes. No analysis lives here.

Exit codes: 0 everything verified; 1 a verification failed (or, for inspect, the metadata has
problems); 2 the input cannot be read as an image export, or the command line is wrong;
3 an internal error (a bug: please report it); 130 interrupted.
"""

import enum
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Annotated, Any, NoReturn

import typer

try:  # typer 0.26+ carries its own copy of click
    from typer._click.exceptions import ClickException as _ClickException
except ImportError:  # pragma: no cover - older typer, on click itself
    from click.exceptions import ClickException as _ClickException  # type: ignore[no-redef]

from . import __version__
from .errors import OciError, Severity
from .sources import Export, open_export
from .verify import Options, Verification, verify
from .walker import DEFAULT_MAX_UNCOMPRESSED, ScanOptions

EXIT_OK, EXIT_FAILED, EXIT_UNREADABLE, EXIT_BUG, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="Verify and measure container image exports offline.",
)


class Format(str, enum.Enum):
    TEXT = "text"
    JSON = "json"


class ReportFormat(str, enum.Enum):
    TEXT = "text"
    JSON = "json"
    MARKDOWN = "markdown"


PathArg = Annotated[
    str, typer.Argument(help="Export: directory, tar file (plain, .gz, .zst), or - for stdin.")
]
JobsOpt = Annotated[
    int, typer.Option("--jobs", "-j", min=0, help="Blobs read in parallel (0: one per core).")
]
FastOpt = Annotated[
    bool, typer.Option("--fast", help="Check stored digests and sizes only; skip decompression.")
]
StrictOpt = Annotated[bool, typer.Option("--strict", help="Treat warnings as failures.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
LimitOpt = Annotated[
    int,
    typer.Option(
        "--max-uncompressed", min=1, metavar="BYTES", help="Stop inflating a layer past this size."
    ),
]


def _fail(where: str, problem: str, code: int) -> NoReturn:
    sys.stderr.write(f"ocianalyze: {where}: {problem}\n")
    raise typer.Exit(code)


@contextmanager
def _guard() -> Iterator[None]:
    """Turn every error into one line on stderr and an exit code: never a traceback."""
    try:
        yield
    except typer.Exit:
        raise
    except OciError as exc:
        _fail(exc.where, exc.problem, EXIT_UNREADABLE)
    except KeyboardInterrupt:
        _fail("interrupted", "stopped by the user", EXIT_INTERRUPTED)
    except BrokenPipeError:
        sys.stderr.close()  # the reader went away (e.g. `| head`); nothing left to say
        raise typer.Exit(EXIT_OK) from None
    except RecursionError:
        _fail("input", "structure nested too deeply", EXIT_UNREADABLE)
    except Exception as exc:  # a bug; say so in one line
        _fail("internal error", f"{type(exc).__name__}: {exc}", EXIT_BUG)


class _NoBar:
    """What `_progress` gives when no bar is shown: importing tqdm costs start-up time."""

    def __enter__(self) -> "_NoBar":
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def update(self, n: int) -> None:
        pass

    def reset(self, total: int | None = None) -> None:
        pass


def _progress(quiet: bool, total: int | None) -> Any:
    if quiet or not sys.stderr.isatty():
        return _NoBar()
    from tqdm import tqdm

    return tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        unit_divisor=1000,
        file=sys.stderr,
        leave=False,
        desc="reading",
    )


def _jobs(jobs: int) -> int:
    """--jobs 0: one thread per core this process may run on (affinity and cgroup cpusets
    shrink that set), at most 8: past that, disk reads, not cores, set the pace."""
    if jobs:
        return jobs
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(8, cores or 1)


def _keep_freed_buffers() -> None:
    """Ask glibc to keep freed buffers for reuse rather than give them back to the kernel.

    The decoders return a new buffer of up to 1 MiB for every piece of output. With glibc's
    defaults many of those are mapped and unmapped again, and every reuse page-faults: 36,000
    faults and 30-40 ms on the benchmark's zstd layer (a tenth of the run). A fixed mmap
    threshold of 4 MiB keeps them in the heap, and a trim threshold of 64 MiB keeps the heap
    from shrinking between pieces. Only freed memory is kept, so peak RSS does not grow. A
    process-wide policy, so the command line sets it, not the library.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # a libc without mallopt: nothing to tune
        return
    mallopt(-3, 4 << 20)  # M_MMAP_THRESHOLD
    mallopt(-1, 64 << 20)  # M_TRIM_THRESHOLD


def _verify(
    path: str, jobs: int, fast: bool, quiet: bool, limit: int, entries: bool = False
) -> Verification:
    _keep_freed_buffers()
    threads = _jobs(jobs)
    # A stream is read by one thread: let it inflate there and hash and walk on a second.
    scan = ScanOptions(
        max_uncompressed=limit, collect_entries=entries, split=threads > 1, hash_only=fast
    )
    opts = Options(jobs=threads, fast=fast, scan=scan)
    with _progress(quiet, None) as bar:
        export = open_export(path, scan_stream=True, opts=opts.scan, progress=bar.update)
        bar.reset(total=_blob_bytes(export))
        return verify(export, opts, progress=bar.update)


def _blob_bytes(export: Export) -> int:
    seen = {d.digest: d.size for img in export.model.images for d in img.layers}
    return sum(seen.values())


def _emit(text: str) -> None:
    # Undecodable names were kept as surrogates; never let them break the output.
    sys.stdout.buffer.write(text.encode("utf-8", "backslashreplace"))
    sys.stdout.flush()


@app.command()
def inspect(
    path: PathArg, fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.TEXT
) -> None:
    """List every image: names, platform, manifest, image ID, layers. Reads metadata only."""
    with _guard():
        from .report import json as json_report
        from .report import text as text_report

        export = open_export(path)
        if fmt is Format.JSON:
            _emit(json_report.render(json_report.inspect_doc(export)))
        else:
            _emit(text_report.inspect_text(export))
        for p in export.model.problems:
            sys.stderr.write(f"ocianalyze: {p.line()}\n")
        if any(p.severity is Severity.ERROR for p in export.model.problems):
            raise typer.Exit(EXIT_FAILED)


@app.command("verify")
def verify_cmd(
    path: PathArg,
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.TEXT,
    jobs: JobsOpt = 0,
    fast: FastOpt = False,
    strict: StrictOpt = False,
    quiet: QuietOpt = False,
    limit: LimitOpt = DEFAULT_MAX_UNCOMPRESSED,
) -> None:
    """Check every blob once: digests, sizes, compression, diff_ids, tar structure."""
    with _guard():
        v = _verify(path, jobs, fast, quiet, limit)
        if fmt is Format.JSON:
            from .report import json as json_report  # here: it imports the analysis modules

            _emit(json_report.render(json_report.report_doc(v, strict)))
        else:
            _emit("".join(f"{p.line()}\n" for p in v.problems))
            blobs = len(v.scans)
            _emit(
                f"{path}: {'OK' if v.ok(strict) else 'FAILED'}: {blobs} blobs read, "
                f"{len(v.problems)} problem(s)\n"
            )
        if not v.ok(strict):
            raise typer.Exit(EXIT_FAILED)


TopOpt = Annotated[int, typer.Option("--top", min=0, help="Largest files and wasters shown.")]


@app.command()
def report(
    path: PathArg,
    fmt: Annotated[ReportFormat, typer.Option("--format", "-f")] = ReportFormat.TEXT,
    jobs: JobsOpt = 0,
    strict: StrictOpt = False,
    quiet: QuietOpt = False,
    limit: LimitOpt = DEFAULT_MAX_UNCOMPRESSED,
    top: TopOpt = 10,
) -> None:
    """Verify, then show every image: layer sizes (stored, uncompressed, on disk) and waste."""
    with _guard():
        from .report import json as json_report
        from .report import text as text_report

        v = _verify(path, jobs, False, quiet, limit, entries=True)
        renderers: dict[ReportFormat, Callable[[Verification], str]] = {
            ReportFormat.TEXT: lambda v: text_report.report_text(v, top, strict),
            ReportFormat.JSON: lambda v: json_report.render(json_report.report_doc(v, strict, top)),
            ReportFormat.MARKDOWN: _markdown,
        }
        _emit(renderers[fmt](v))
        if not v.ok(strict):
            raise typer.Exit(EXIT_FAILED)


def _markdown(v: Verification) -> str:
    from .report import markdown

    return markdown.render(v)


@app.command()
def footprint(
    paths: Annotated[list[str], typer.Argument(help="One or more exports.")],
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.TEXT,
    jobs: JobsOpt = 0,
    quiet: QuietOpt = False,
    limit: LimitOpt = DEFAULT_MAX_UNCOMPRESSED,
) -> None:
    """What each platform costs across the exports, shared vs unique, and the bundle's total."""
    with _guard():
        from .footprint import footprint as compute_footprint
        from .report import footprint as fp_report

        results = [_verify(p, jobs, False, quiet, limit) for p in paths]
        fp = compute_footprint(results)
        _emit(fp_report.footprint_json(fp) if fmt is Format.JSON else fp_report.footprint_text(fp))
        for v in results:
            for p in v.problems:
                sys.stderr.write(f"ocianalyze: {v.export.path}: {p.line()}\n")
        if not all(v.ok() for v in results):
            raise typer.Exit(EXIT_FAILED)


@app.command()
def files(
    path: PathArg,
    image: Annotated[
        str | None, typer.Option("--image", help="Ref, digest or os/arch[/variant].")
    ] = None,
    layer: Annotated[
        int | None, typer.Option("--layer", min=1, help="List layer N (1 = base).")
    ] = None,
    merged: Annotated[
        bool, typer.Option("--merged", help="List the merged filesystem (default).")
    ] = False,
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.TEXT,
    quiet: QuietOpt = False,
    limit: LimitOpt = DEFAULT_MAX_UNCOMPRESSED,
) -> None:
    """List the files of one layer, or of the merged filesystem, like `tar -tv`."""
    with _guard():
        from .listing import Unlistable, choose_image, image_files
        from .report import files as files_report

        if layer is not None and merged:
            _fail(path, "--layer and --merged exclude each other", EXIT_UNREADABLE)
        scan = ScanOptions(max_uncompressed=limit, collect_entries=True)
        export = open_export(path, scan_stream=True, opts=scan)
        chosen = choose_image(export, image)
        try:
            entries = image_files(export, chosen, layer, Options(jobs=_jobs(0), scan=scan))
        except Unlistable as exc:
            _fail(exc.where, exc.problem, EXIT_FAILED)
        chunks = (
            files_report.files_json_chunks(chosen.name, layer, entries)
            if fmt is Format.JSON
            else files_report.files_text_chunks(entries)
        )
        for chunk in chunks:  # written as produced: memory does not grow with the listing
            _emit(chunk)


def _version(value: bool) -> None:
    if value:
        _emit(f"ocianalyze {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True)] = False,
) -> None:
    """Verify and measure container image exports offline."""


def _run() -> int:
    """Run the command line; a usage error becomes one line, as every other error does."""
    try:
        result = app(standalone_mode=False)
    except _ClickException as exc:
        message = exc.format_message().strip()
        if "\n" in message:  # no arguments at all: the message is the help text
            sys.stderr.write(message + "\n")
        elif message:  # (empty: typer has printed the help already)
            ctx = getattr(exc, "ctx", None)
            where = f"{ctx.command_path} --help" if ctx is not None else "ocianalyze --help"
            sys.stderr.write(f"ocianalyze: usage: {message} (see {where})\n")
        return int(exc.exit_code)
    except typer.Abort:
        sys.stderr.write("ocianalyze: aborted\n")
        return EXIT_FAILED
    return result if isinstance(result, int) else EXIT_OK


def main() -> NoReturn:
    """The console entry point. It leaves through os._exit once the output is flushed: tearing
    the interpreter down (some 230 modules) costs 10 ms, a seventh of a small run, and there is
    nothing left to clean up: files are closed and the worker threads have finished."""
    try:
        code: object = _run()
    except SystemExit as exc:
        code = exc.code
    if code is None:
        code = 0
    elif not isinstance(code, int):  # sys.exit("message"): print it, as Python would
        sys.stderr.write(f"{code}\n")
        code = 1
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):  # the reader went away, or _guard closed it
            stream.flush()
    os._exit(code)
