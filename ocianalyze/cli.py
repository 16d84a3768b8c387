"""The command line: argument parsing, progress bars and exit codes. No analysis lives here.

Exit codes: 0 everything verified; 1 a verification failed (or, for inspect, the metadata has
problems); 2 the input cannot be read as an image export, an OS error, a write error on stdout,
or the command line is wrong; 3 an internal error (a bug: please report it); 130/143 interrupted
(SIGINT/SIGTERM, handled by the entry point, ``ocianalyze_entry``).

Every string from the export is escaped (``report.escape.printable``) before it reaches stdout or
stderr. A reader that leaves early (``| head``) does not change the exit code: the verdict stands.
"""

import errno
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

try:  # typer 0.26+ carries its own copy of click
    from typer._click.exceptions import ClickException as _ClickException
except ImportError:  # pragma: no cover - older typer, on click itself
    from click.exceptions import ClickException as _ClickException  # type: ignore[assignment]

from . import __version__
from .analysis import Report, describe, summarize
from .errors import OciError, Unreadable
from .report import INSPECT, REPORT, VERIFY, Format, ReportFormat, VerifyFormat
from .report.escape import printable
from .sources import Export, open_export
from .trust import Trust
from .verify import Options, Verification, verify
from .verify import inspect as inspect_export
from .verify import open_export as open_for_verify
from .walker import DEFAULT_MAX_UNCOMPRESSED, ScanOptions

if TYPE_CHECKING:
    from .gates import Rules

EXIT_OK, EXIT_FAILED, EXIT_UNREADABLE, EXIT_BUG, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

__all__ = ["Format", "ReportFormat", "VerifyFormat", "app", "main"]

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="Verify and measure container image exports offline.",
)


def _usable_path(path: str) -> str:
    """An empty or blank PATH is a usage error (it would name the current directory); ``-``
    with standard input closed cannot be read (exit 2, like any other unreadable input)."""
    if not path.strip():
        raise typer.BadParameter("an empty path names no export")
    if path == "-" and sys.stdin is None:
        raise Unreadable("-", f"standard input is closed ({os.strerror(errno.EBADF)})", errno.EBADF)
    return path


def _usable_paths(paths: list[str]) -> list[str]:
    return [_usable_path(p) for p in paths]


PathArg = Annotated[
    str,
    typer.Argument(
        help="Export: directory, tar file (plain, .gz, .zst), or - for stdin.",
        callback=_usable_path,
    ),
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


def _say(*parts: str) -> None:
    """One line on stderr, ``ocianalyze: part: part...``, each part escaped. A closed or full
    stderr changes nothing: the exit code still tells the outcome."""
    line = ": ".join(["ocianalyze", *(printable(p) for p in parts)]) + "\n"
    with suppress(OSError, ValueError, AttributeError):  # AttributeError: stderr is None
        sys.stderr.write(line)
        sys.stderr.flush()


def _fail(where: str, problem: str, code: int) -> NoReturn:
    _say(where, problem)
    raise typer.Exit(code)


class _OutputFailed(Exception):
    """Standard output cannot be written (closed, or a full disk): the output is lost."""

    def __init__(self, exc: OSError) -> None:
        super().__init__(exc.strerror or str(exc))
        self.strerror = exc.strerror or str(exc)


class _Stdout:
    """Standard output as the commands write it: a reader that left ends the writing quietly
    (the verdict, not the output, was what mattered); any other failure is _OutputFailed."""

    gone = False

    @classmethod
    def write(cls, text: str) -> None:
        if cls.gone:
            return
        if sys.stdout is None:  # closed by the caller (`>&-`)
            raise _OutputFailed(OSError(errno.EBADF, os.strerror(errno.EBADF)))
        try:
            # Undecodable names were kept as surrogates; never let them break the output.
            sys.stdout.buffer.write(text.encode("utf-8", "backslashreplace"))
            sys.stdout.flush()
        except BrokenPipeError:
            cls.gone = True
            _drop_stdout()
        except (OSError, ValueError) as exc:
            raise _OutputFailed(exc if isinstance(exc, OSError) else OSError(str(exc))) from None


def _drop_stdout() -> None:
    """Send what is still buffered for stdout nowhere: flushing it would fail again."""
    with suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


@contextmanager
def _guard(where: str) -> Iterator[None]:
    """Turn every error into one line on stderr and an exit code: never a traceback.

    ``where`` (the command's PATH) names the input in an OS error that carries no file name.
    """
    try:
        yield
    except typer.Exit:
        raise
    except _OutputFailed as exc:
        _fail("stdout", exc.strerror, EXIT_UNREADABLE)
    except OciError as exc:  # errors.Unreadable too: an OS error on a file of the export
        _fail(exc.where, exc.problem, EXIT_UNREADABLE)
    except KeyboardInterrupt:
        _fail("interrupted", "stopped by the user", EXIT_INTERRUPTED)
    except BrokenPipeError:  # written by a command directly: the reader went away
        _Stdout.gone = True
        _drop_stdout()
        raise typer.Exit(EXIT_OK) from None
    except OSError as exc:  # a file system refusal, never a bug: name the path and errno's text
        _fail(_os_where(exc, where), exc.strerror or str(exc), EXIT_UNREADABLE)
    except RecursionError:
        _fail(where, "structure nested too deeply", EXIT_UNREADABLE)
    except MemoryError:  # a memory limit (ulimit -v, a cgroup) reached: the system's refusal
        _fail(where, "out of memory: the process's memory limit was reached", EXIT_UNREADABLE)
    except Exception as exc:  # a bug; say so in one line
        _fail("internal error", f"{type(exc).__name__}: {exc}", EXIT_BUG)


def _os_where(exc: OSError, where: str) -> str:
    name = exc.filename
    if isinstance(name, bytes):
        name = name.decode("utf-8", "surrogateescape")
    return str(name) if name is not None else where


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
    if quiet or sys.stderr is None or not sys.stderr.isatty():
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
    # One malloc arena per thread keeps each thread's freed buffers apart: with 16 layers on
    # 16 threads that was 77 MiB peak against 47 MiB with at most four arenas.
    mallopt(-8, 4)  # M_ARENA_MAX


# Bytes of blobs from which the allocator policy pays: below it, loading ctypes to set it costs
# more (2 ms) than the page faults it saves.
_TUNE_FROM = 16 << 20


def _verify(
    path: str,
    jobs: int,
    fast: bool,
    quiet: bool,
    limit: int,
    entries: bool = False,
    hashes: bool = False,
) -> Verification:
    folder = Path(path).is_dir()
    if not folder:  # a stream is scanned while it is opened: tune first
        _keep_freed_buffers()
    threads = _jobs(jobs)
    # A stream is read by one thread: let it inflate there and hash and walk on a second.
    scan = ScanOptions(
        max_uncompressed=limit,
        collect_entries=entries,
        split=threads > 1,
        hash_only=fast,
        hash_files=hashes,
    )
    opts = Options(jobs=threads, fast=fast, scan=scan)
    with _progress(quiet, None) as bar:
        export = open_for_verify(path, scan_stream=True, opts=opts.scan, progress=bar.update)
        total = _blob_bytes(export)
        if folder and total >= _TUNE_FROM:
            _keep_freed_buffers()
        bar.reset(total=total)
        return verify(export, opts, progress=bar.update)


def _blob_bytes(export: Export) -> int:
    seen = {d.digest: d.size for img in export.model.images for d in img.layers}
    return sum(seen.values())


# --- signatures, attestations and pinned digests: checked only when one of these is given ---
_T = "Signatures and pins"
KeyOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--key",
        metavar="FILE",
        rich_help_panel=_T,
        help="Trusted public key: PEM (ECDSA, RSA, Ed25519) or OpenPGP. Repeatable.",
    ),
]
IdentityOpt = Annotated[
    str | None,
    typer.Option("--certificate-identity", rich_help_panel=_T, help="Keyless signer identity."),
]
IdentityReOpt = Annotated[
    str | None,
    typer.Option("--certificate-identity-regexp", rich_help_panel=_T, help="... as a regexp."),
]
IssuerOpt = Annotated[
    str | None,
    typer.Option("--certificate-oidc-issuer", rich_help_panel=_T, help="Keyless OIDC issuer."),
]
IssuerReOpt = Annotated[
    str | None,
    typer.Option("--certificate-oidc-issuer-regexp", rich_help_panel=_T, help="... as a regexp."),
]
RootOpt = Annotated[
    str | None,
    typer.Option(
        "--trusted-root", metavar="FILE", rich_help_panel=_T, help="Sigstore trusted_root.json."
    ),
]
BundleOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--bundle", metavar="FILE", rich_help_panel=_T, help="Sigstore bundle file. Repeatable."
    ),
]
TlogOpt = Annotated[
    bool,
    typer.Option("--require-tlog", rich_help_panel=_T, help="Trust only tlog-backed signatures."),
]
SignIdentityOpt = Annotated[
    str | None,
    typer.Option(
        "--sign-identity",
        metavar="REF",
        rich_help_panel=_T,
        help="The docker-reference a signature must name.",
    ),
]
RequireOpt = Annotated[
    bool,
    typer.Option(
        "--require-signature",
        rich_help_panel=_T,
        help="Fail any runnable image without a verified signature.",
    ),
]
ExpectOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--expect",
        metavar="SPEC",
        rich_help_panel=_T,
        help="Pinned digest, file of REF@DIGEST lines, or repo-info page. Repeatable.",
    ),
]


def _trust(
    key: list[str] | None,
    identity: str | None,
    identity_re: str | None,
    issuer: str | None,
    issuer_re: str | None,
    root: str | None,
    bundles: list[str] | None,
    require_tlog: bool,
    sign_identity: str | None,
    require: bool,
    expect: list[str] | None,
) -> Trust:
    return Trust(
        tuple(key or ()), identity, identity_re, issuer, issuer_re, root, tuple(bundles or ()),
        require_tlog, sign_identity, require, tuple(expect or ()),
    )  # fmt: skip


def _summary(trust: Trust, verifying: Callable[[], Verification], **kw: Any) -> Report:
    """Verify (``verifying()``), then check the signatures when a trust option was given: its
    files are read first, so a bad ``--key`` fails before a long read (the cryptography
    libraries are imported only then)."""
    if not trust.given:
        return summarize(verifying(), **kw)
    from .trust.check import check, load

    ctx = load(trust)
    v = verifying()
    return summarize(v, trust=check(v, trust, ctx), **kw)


def _emit(text: str) -> None:
    """Write ``text`` to stdout (see _Stdout: a reader that left is not an error)."""
    _Stdout.write(text)


@app.command()
def inspect(
    path: PathArg, fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.TEXT
) -> None:
    """List every image: names, platform, manifest, image ID, layers. Reads metadata only."""
    with _guard(path):
        export = inspect_export(open_export(path))
        summary = describe(export.path, export.format, export.model)
        _emit(INSPECT[fmt](summary))
        for p in summary.problems:
            _say(p.line())
        if not summary.ok:
            raise typer.Exit(EXIT_FAILED)


def _conclude(summary: Report, rules: "Rules | None" = None) -> None:
    """Exit 1 when the verdict fails or a gate does (one line on stderr per failed rule)."""
    from .gates import check

    failed = check(rules, summary) if rules is not None else []
    for line in failed:
        _say("gate", line)
    if failed or not summary.ok:
        raise typer.Exit(EXIT_FAILED)


# CI gates (ocianalyze.gates): flags of verify and report, or keys of a TOML rules file.
FailOnOpt = Annotated[
    list[str] | None,
    typer.Option("--fail-on", metavar="KIND[,KIND...]", help="Fail when these kinds are found."),
]
MinEffOpt = Annotated[
    float | None, typer.Option("--min-efficiency", metavar="0..1", help="Lowest image efficiency.")
]
WastedOpt = Annotated[
    str | None, typer.Option("--max-wasted-bytes", metavar="SIZE", help="Most wasted bytes.")
]
WastedPctOpt = Annotated[
    float | None,
    typer.Option("--max-wasted-percent", metavar="PCT", help="Most wasted % of uncompressed."),
]
MaxSizeOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--max-size", metavar="PLATFORM[:stored|uncompressed|disk]=SIZE", help="Largest image."
    ),
]
RulesOpt = Annotated[
    str | None, typer.Option("--rules", metavar="FILE", help="TOML rules [.ocianalyze.toml].")
]


def _rules(ctx: typer.Context, rules_file: str | None, **flags: object) -> "Rules":
    """The gates from the flags over the rules file; a bad rule is a usage error (exit 2)."""
    from .gates import RulesError, rules

    try:
        cwd: Path | None = Path.cwd()
    except OSError:  # the working directory was removed: it holds no rules file
        cwd = None
    try:
        return rules({k.replace("_", "-"): v for k, v in flags.items()}, rules_file, cwd)
    except RulesError as exc:
        message = " ".join(str(exc).split())  # one line, whatever the TOML parser said
        raise typer.BadParameter(message, ctx=ctx, param_hint=exc.option) from None


PathsArg = Annotated[
    list[str],
    typer.Argument(
        help="Exports: directories, tar files (plain, .gz, .zst), or - for stdin.",
        callback=_usable_paths,
    ),
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        metavar="ADDRESS|local[:N]",
        help="Scan blobs on a Dask cluster (its workers see the same paths), or on N local "
        "worker processes. Needs the dask extra.",
    ),
]


@app.command("verify")
def verify_cmd(
    ctx: typer.Context,
    paths: PathsArg,
    fmt: Annotated[VerifyFormat, typer.Option("--format", "-f")] = VerifyFormat.TEXT,
    jobs: JobsOpt = 0,
    fast: FastOpt = False,
    strict: StrictOpt = False,
    quiet: QuietOpt = False,
    limit: LimitOpt = DEFAULT_MAX_UNCOMPRESSED,
    fail_on: FailOnOpt = None,
    min_efficiency: MinEffOpt = None,
    max_wasted_bytes: WastedOpt = None,
    max_wasted_percent: WastedPctOpt = None,
    max_size: MaxSizeOpt = None,
    rules_file: RulesOpt = None,
    scheduler: SchedulerOpt = None,
    key: KeyOpt = None,
    identity: IdentityOpt = None,
    identity_re: IdentityReOpt = None,
    issuer: IssuerOpt = None,
    issuer_re: IssuerReOpt = None,
    root: RootOpt = None,
    bundles: BundleOpt = None,
    require_tlog: TlogOpt = False,
    sign_identity: SignIdentityOpt = None,
    require: RequireOpt = False,
    expect: ExpectOpt = None,
) -> None:
    """Check every blob once: digests, sizes, compression, diff_ids, tar structure."""
    gates = _rules(ctx, rules_file, fail_on=fail_on, min_efficiency=min_efficiency,
                   max_wasted_bytes=max_wasted_bytes, max_wasted_percent=max_wasted_percent,
                   max_size=max_size)  # fmt: skip
    _one_export_only(ctx, fmt.value, len(paths))
    trust = _trust(
        key, identity, identity_re, issuer, issuer_re, root, bundles, require_tlog,
        sign_identity, require, expect,
    )  # fmt: skip
    _trust_one_export(ctx, trust, len(paths), scheduler)
    with _guard(paths[0]):
        if len(paths) > 1 or scheduler is not None:
            many = _Many(paths, scheduler, jobs, quiet, limit, strict, gates)
            many.run(VERIFY[fmt], fmt is VerifyFormat.JSON, fast=fast, entries=gates.needs_merge())
        run = partial(_verify, paths[0], jobs, fast, quiet, limit, entries=gates.needs_merge())
        summary = _summary(trust, run, strict=strict)
        _emit(VERIFY[fmt](summary))
        _conclude(summary, gates)


TopOpt = Annotated[int, typer.Option("--top", min=0, help="Largest files and wasters shown.")]


@app.command()
def report(
    ctx: typer.Context,
    paths: PathsArg,
    fmt: Annotated[ReportFormat, typer.Option("--format", "-f")] = ReportFormat.TEXT,
    jobs: JobsOpt = 0,
    strict: StrictOpt = False,
    quiet: QuietOpt = False,
    limit: LimitOpt = DEFAULT_MAX_UNCOMPRESSED,
    top: TopOpt = 10,
    fail_on: FailOnOpt = None,
    min_efficiency: MinEffOpt = None,
    max_wasted_bytes: WastedOpt = None,
    max_wasted_percent: WastedPctOpt = None,
    max_size: MaxSizeOpt = None,
    rules_file: RulesOpt = None,
    scheduler: SchedulerOpt = None,
    key: KeyOpt = None,
    identity: IdentityOpt = None,
    identity_re: IdentityReOpt = None,
    issuer: IssuerOpt = None,
    issuer_re: IssuerReOpt = None,
    root: RootOpt = None,
    bundles: BundleOpt = None,
    require_tlog: TlogOpt = False,
    sign_identity: SignIdentityOpt = None,
    require: RequireOpt = False,
    expect: ExpectOpt = None,
) -> None:
    """Verify, then show every image: layer sizes (stored, uncompressed, on disk) and waste."""
    gates = _rules(ctx, rules_file, fail_on=fail_on, min_efficiency=min_efficiency,
                   max_wasted_bytes=max_wasted_bytes, max_wasted_percent=max_wasted_percent,
                   max_size=max_size)  # fmt: skip
    _one_export_only(ctx, fmt.value, len(paths))
    trust = _trust(
        key, identity, identity_re, issuer, issuer_re, root, bundles, require_tlog,
        sign_identity, require, expect,
    )  # fmt: skip
    _trust_one_export(ctx, trust, len(paths), scheduler)
    with _guard(paths[0]):
        if fmt is ReportFormat.HTML:  # a missing library is found before the run, not after
            from .report.html import require_extra

            require_extra()
        if len(paths) > 1 or scheduler is not None:
            many = _Many(paths, scheduler, jobs, quiet, limit, strict, gates)
            many.run(REPORT[fmt], fmt is ReportFormat.JSON, entries=True, top=top, each=True)
        run = partial(_verify, paths[0], jobs, False, quiet, limit, entries=True)
        summary = _summary(trust, run, top=top, strict=strict)
        _emit(REPORT[fmt](summary))
        _conclude(summary, gates)


def _trust_one_export(ctx: typer.Context, trust: Trust, paths: int, scheduler: str | None) -> None:
    """Signatures and pins are checked for one export at a time (run once per export)."""
    if trust.given and (paths > 1 or scheduler is not None):
        raise typer.BadParameter(
            "signature and --expect options take one export, without --scheduler", ctx
        )


def _one_export_only(ctx: typer.Context, fmt: str, paths: int) -> None:
    """Several exports are rendered as text or JSON only (one SARIF log, JUnit file or page
    per export: run once per export)."""
    if paths > 1 and fmt not in ("text", "json"):
        raise typer.BadParameter(f"{fmt} takes one export, not {paths}", ctx, param_hint="--format")


class _Many:
    """`verify`/`report` over several exports, or on a cluster (`bundle`, `distributed`):
    one schedule of every blob, one progress bar, the summary table, the worst exit code.
    With one path the output is that export's, exactly as without --scheduler."""

    def __init__(
        self,
        paths: list[str],
        scheduler: str | None,
        jobs: int,
        quiet: bool,
        limit: int,
        strict: bool,
        gates: "Rules | None" = None,
    ) -> None:
        self.paths, self.scheduler, self.jobs = paths, scheduler, _jobs(jobs)
        self.quiet, self.limit, self.strict, self.gates = quiet, limit, strict, gates

    def run(
        self,
        render: Any,
        json: bool,
        *,
        fast: bool = False,
        entries: bool = False,
        top: int = 10,
        each: bool = False,
    ) -> NoReturn:
        import time
        from contextlib import ExitStack

        from . import bundle as bd

        if self.paths.count("-") > 1:  # the second would read what the first left: nothing
            _fail("-", "given more than once: standard input is read once", EXIT_UNREADABLE)
        _keep_freed_buffers()
        scan = ScanOptions(
            max_uncompressed=self.limit,
            collect_entries=entries,
            split=self.jobs > 1,
            hash_only=fast,
        )
        start = time.perf_counter()
        with ExitStack() as stack:
            cluster = None
            if self.scheduler is not None:
                from .distributed import connect

                cluster = stack.enter_context(connect(self.scheduler))
            opts = Options(jobs=1 if cluster else self.jobs, fast=fast, scan=scan)
            how = bd.Run(opts, cluster.run if cluster else None, top=top, strict=self.strict)
            with _progress(self.quiet, None) as bar:
                b = bd.verify_bundle(self.paths, how, bar.update, lambda n: bar.reset(total=n))
            info = bd.RunInfo(
                "dask" if cluster else "threads",
                self.scheduler,
                cluster.workers if cluster else self.jobs,
                time.perf_counter() - start,
            )
        if cluster is not None:
            for e in b.entries:
                if e.local_only:
                    _say(e.path, "a one-pass stream, read on this machine, not by the cluster")
        for e in b.entries:
            if e.error is not None:
                _say(e.error)
        if len(self.paths) == 1:
            only = b.entries[0].report
            if only is None:
                raise typer.Exit(EXIT_UNREADABLE)
            _emit(render(only))
        elif json:
            _emit(bd.bundle_json(b, info))
        else:
            _emit(bd.bundle_text(b, info, render if each else None))
        codes = {bd.Verdict.OK: EXIT_OK, bd.Verdict.FAILED: EXIT_FAILED}
        code = codes.get(b.verdict, EXIT_UNREADABLE)
        if self._gates_fail(b) and code == EXIT_OK:
            code = EXIT_FAILED
        raise typer.Exit(code)

    def _gates_fail(self, b: Any) -> bool:
        """Each export's gates, one line per failed rule naming the export."""
        from .gates import check

        failed = False
        for e in b.entries:
            for line in check(self.gates, e.report) if self.gates and e.report else []:
                _say(e.path, "gate", line)
                failed = True
        return failed


@app.command()
def footprint(
    paths: Annotated[
        list[str], typer.Argument(help="One or more exports.", callback=_usable_paths)
    ],
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.TEXT,
    jobs: JobsOpt = 0,
    quiet: QuietOpt = False,
    limit: LimitOpt = DEFAULT_MAX_UNCOMPRESSED,
) -> None:
    """What each platform costs across the exports, shared vs unique, and the bundle's total."""
    with _guard(paths[0]):
        from .footprint import footprint as compute_footprint
        from .report import footprint as fp_report

        results = [_verify(p, jobs, False, quiet, limit) for p in paths]
        fp = compute_footprint(results)
        _emit(fp_report.footprint_json(fp) if fmt is Format.JSON else fp_report.footprint_text(fp))
        for v in results:
            for p in v.problems:
                _say(v.export.path, p.line())
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
    with _guard(path):
        from .listing import Unlistable, choose_image, image_files
        from .report import files as files_report

        if layer is not None and merged:
            _fail(path, "--layer and --merged exclude each other", EXIT_UNREADABLE)
        scan = ScanOptions(max_uncompressed=limit, collect_entries=True)
        export = open_for_verify(path, scan_stream=True, opts=scan)
        chosen = choose_image(export, image)
        try:
            entries = image_files(export, chosen, layer, Options(jobs=_jobs(0), scan=scan))
        except Unlistable as exc:
            if fmt is Format.JSON:  # stdout stays one JSON document, whatever happens
                _emit(files_report.unlistable_json(chosen.name, layer, exc.problem))
            _fail(exc.where, exc.problem, EXIT_FAILED)
        chunks = (
            files_report.files_json_chunks(chosen.name, layer, entries)
            if fmt is Format.JSON
            else files_report.files_text_chunks(entries)
        )
        for chunk in chunks:  # written as produced: memory does not grow with the listing
            _emit(chunk)


@app.command("diff")
def diff_cmd(
    old: PathArg,
    new: PathArg,
    image: Annotated[
        list[str] | None,
        typer.Option("--image", help="Compare this image (given twice: OLD's, then NEW's)."),
    ] = None,
    platform: Annotated[
        str | None, typer.Option("--platform", help="Only images of os/arch[/variant].")
    ] = None,
    have: Annotated[
        list[str] | None,
        typer.Option("--have", help="Export or digest list the receiving site holds too."),
    ] = None,
    fmt: Annotated[ReportFormat, typer.Option("--format", "-f")] = ReportFormat.TEXT,
    top: TopOpt = 10,
    jobs: JobsOpt = 0,
    quiet: QuietOpt = False,
    limit: LimitOpt = DEFAULT_MAX_UNCOMPRESSED,
) -> None:
    """What changed from OLD to NEW (images, layers, config, sizes, files) and what must cross.

    Exit 0: no difference; 1: differences (or a verification failed); 2: unreadable input."""
    if len(image or []) > 2:
        raise typer.BadParameter("--image is given once (both sides) or twice (OLD, NEW)")
    if [old, new, *(have or [])].count("-") > 1:  # the second reader would find it drained
        raise typer.BadParameter("standard input (-) can be only one of OLD, NEW and --have")
    with _guard(old):
        from .diff import diff_exports
        from .diff.delta import read_held
        from .listing import choose_image
        from .report.diff import RENDERERS, problem_lines

        held = set().union(*map(read_held, have or []))
        ov, nv = (_verify(p, jobs, False, quiet, limit, True, hashes=True) for p in (old, new))
        chosen = None
        if image:
            chosen = (choose_image(ov.export, image[0]), choose_image(nv.export, image[-1]))
        result = diff_exports(ov, nv, chosen=chosen, platform=platform, held=held, top=top)
        if platform and not (result.images or result.added or result.removed):  # a typo
            raise OciError(f"--platform {platform}", "no image of it in OLD or in NEW")
        _emit(RENDERERS[fmt.value](result))
        for v in (ov, nv):
            for line in problem_lines(v.problems):
                _say(v.export.path, line)
        if result.differs or not (ov.ok() and nv.ok()):
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


def _write_err(text: str) -> None:
    with suppress(OSError, ValueError, AttributeError):  # a closed stderr changes nothing
        sys.stderr.write(text)


def _run() -> int:
    """Run the command line; a usage error becomes one line, as every other error does."""
    try:
        result = app(standalone_mode=False)
    except _ClickException as exc:
        message = exc.format_message().strip()
        if "\n" in message:  # no arguments at all: the message is the help text
            _write_err(message + "\n")
        elif message:  # (empty: typer has printed the help already)
            ctx = getattr(exc, "ctx", None)
            where = f"{ctx.command_path} --help" if ctx is not None else "ocianalyze --help"
            _say("usage", f"{message} (see {where})")
        return int(exc.exit_code)
    except typer.Abort:
        _say("aborted")
        return EXIT_FAILED
    except OciError as exc:  # from an argument's check (standard input closed)
        _say(exc.where, exc.problem)
        return EXIT_UNREADABLE
    except _OutputFailed as exc:  # --version on a closed or full stdout
        _say("stdout", exc.strerror)
        return EXIT_UNREADABLE
    except BrokenPipeError:  # the help text's reader went away: nothing was asked of us
        _drop_stdout()
        return EXIT_OK
    except OSError as exc:  # the commands are guarded: only the help text is written here
        _say("stdout", exc.strerror or str(exc))
        return EXIT_UNREADABLE
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
        _write_err(f"{code}\n")
        code = 1
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError, AttributeError):  # gone, full, or closed (None)
            stream.flush()
    os._exit(code)
