"""The command line: argument parsing, progress bars and exit codes. No analysis lives here.

Exit codes: 0 everything verified; 1 a verification failed (or, for inspect, the metadata has
problems); 2 the input cannot be read as an image export, or the command line is wrong;
3 an internal error (a bug: please report it); 130 interrupted.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, NoReturn

import typer
from tqdm import tqdm

from . import __version__
from .errors import OciError, Severity
from .report import json as json_report
from .report import text as text_report
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


def _progress(quiet: bool, total: int | None) -> tqdm:  # type: ignore[type-arg]
    disable = quiet or not sys.stderr.isatty()
    return tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        unit_divisor=1000,
        file=sys.stderr,
        disable=disable,
        leave=False,
        desc="reading",
    )


def _jobs(jobs: int) -> int:
    import os

    return jobs or min(8, os.cpu_count() or 1)


def _verify(
    path: str, jobs: int, fast: bool, strict: bool, quiet: bool, limit: int
) -> Verification:
    opts = Options(
        jobs=_jobs(jobs), fast=fast, strict=strict, scan=ScanOptions(max_uncompressed=limit)
    )
    with _progress(quiet, None) as bar:
        export = open_export(path, scan_stream=True, opts=opts.scan, progress=bar.update)
        bar.reset(total=_blob_bytes(export))
        return verify(export, opts, progress=bar.update)


def _blob_bytes(export: Export) -> int:
    seen = {d.digest: d.size for img in export.model.images for d in img.layers}
    return sum(seen.values())


def _emit(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


@app.command()
def inspect(
    path: PathArg, fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.TEXT
) -> None:
    """List every image: names, platform, manifest, image ID, layers. Reads metadata only."""
    with _guard():
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
        v = _verify(path, jobs, fast, strict, quiet, limit)
        if fmt is Format.JSON:
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


@app.command()
def report(
    path: PathArg,
    fmt: Annotated[ReportFormat, typer.Option("--format", "-f")] = ReportFormat.TEXT,
    jobs: JobsOpt = 0,
    strict: StrictOpt = False,
    quiet: QuietOpt = False,
    limit: LimitOpt = DEFAULT_MAX_UNCOMPRESSED,
) -> None:
    """Verify, then show every image with its layers' sizes: stored, uncompressed, on disk."""
    with _guard():
        v = _verify(path, jobs, False, strict, quiet, limit)
        renderers: dict[ReportFormat, Callable[[Verification], str]] = {
            ReportFormat.TEXT: text_report.report_text,
            ReportFormat.JSON: lambda v: json_report.render(json_report.report_doc(v, strict)),
        }
        if fmt not in renderers:
            _fail(path, f"--format {fmt.value} is not available yet", EXIT_UNREADABLE)
        _emit(renderers[fmt](v))
        if not v.ok(strict):
            raise typer.Exit(EXIT_FAILED)


def _version(value: bool) -> None:
    if value:
        _emit(f"ocianalyze {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True)] = False,
) -> None:
    """Verify and measure container image exports offline."""


def main() -> None:
    app()
