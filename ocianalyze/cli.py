"""The command line: argument parsing, progress bars and exit codes. No analysis lives here.

Exit codes: 0 everything verified; 1 a verification failed (or, for inspect, the metadata has
problems); 2 the input cannot be read as an image export, an OS error, a write error on stdout,
or the command line is wrong; 3 an internal error (a bug: please report it); 130/143 interrupted
(SIGINT/SIGTERM, handled by the entry point, ``ocianalyze_entry``).

Every string from the export is escaped (``report.escape.printable``) before it reaches stdout or
stderr. A reader that leaves early (``| head``) does not change the exit code: the verdict stands.

The options are parsed with ``argparse`` and each command imports only the modules it uses:
start-up is most of the cost of a small run (``inspect``, ``verify`` of a small export).
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import partial
from typing import TYPE_CHECKING, Any, NoReturn

from . import __version__
from .errors import OciError, Unreadable
from .report import DiffFormat, Format, ReportFormat, VerifyFormat
from .report.escape import printable

if TYPE_CHECKING:
    from .analysis import Report
    from .gates import Rules
    from .sources import Export
    from .trust import Trust
    from .verify import Verification

EXIT_OK, EXIT_FAILED, EXIT_UNREADABLE, EXIT_BUG, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

__all__ = ["Exit", "Format", "ReportFormat", "VerifyFormat", "main"]

ABOUT = "Verify and measure container image exports offline."


class Exit(Exception):
    """End the command with ``exit_code`` (what it had to say is said already)."""

    def __init__(self, exit_code: int = EXIT_OK) -> None:
        super().__init__(exit_code)
        self.exit_code = exit_code


class _Usage(Exception):
    """A wrong command line: one line ``ocianalyze: usage: MESSAGE (see ocianalyze CMD --help)``
    and exit 2. ``command``: the command whose help the line points to (None: the root's)."""

    def __init__(self, message: str, command: str | None = None) -> None:
        super().__init__(message)
        self.message, self.command = message, command


def _prog() -> str:
    """The command as the user ran it, for the hints: ``python -m ocianalyze`` when run as a
    module, else ``ocianalyze``."""
    package = getattr(sys.modules.get("__main__"), "__package__", None)
    return f"python -m {package}" if package else "ocianalyze"


def _bad(message: str, hint: str | None = None) -> _Usage:
    """A value the command refuses, worded as the command line always said it."""
    return _Usage(f"Invalid value for {hint}: {message}" if hint else f"Invalid value: {message}")


def _usable_path(path: str, name: str = "path") -> str:
    """An empty or blank PATH is a usage error (it would name the current directory); ``-``
    with standard input closed cannot be read (exit 2, like any other unreadable input)."""
    if not path.strip():
        raise _bad("an empty path names no export", f"'{name}'")
    if path == "-" and sys.stdin is None:
        raise Unreadable("-", f"standard input is closed ({os.strerror(errno.EBADF)})", errno.EBADF)
    return path


# --- the options: one table, from which each command's parser and help are built ------------


class _Opt:
    """One option: ``flags`` as typed (the first long one names it in messages), ``dest`` the
    command function's parameter, ``kind`` how its text is read: ``flag``, ``str``, ``list``
    (repeatable), ``int`` (at least ``low``), ``float`` or an Enum class (one of its values)."""

    __slots__ = ("default", "dest", "flags", "group", "help", "kind", "low", "metavar")

    def __init__(
        self,
        dest: str,
        flags: tuple[str, ...],
        kind: Any,
        help: str,
        default: Any = None,
        metavar: str | None = None,
        low: int | None = None,
        group: str | None = None,
    ) -> None:
        self.dest, self.flags, self.kind, self.help = dest, flags, kind, help
        self.default, self.metavar, self.low, self.group = default, metavar, low, group

    @property
    def hint(self) -> str:
        """How a bad value names the option: ``'--jobs' / '-j'``."""
        return " / ".join(f"'{f}'" for f in self.flags)

    def convert(self, raw: Any) -> Any:
        """The value the command gets; raises _Usage for text that is not of the kind."""
        if raw is None or self.kind in ("flag", "str", "list"):
            return self.default if raw is None else raw
        if self.kind in ("int", "float"):
            try:
                value = int(raw) if self.kind == "int" else float(raw)
            except ValueError:
                kind = "int range" if self.low is not None else self.kind
                raise _bad(f"'{raw}' is not a valid {kind}.", self.hint) from None
            if self.low is not None and value < self.low:
                raise _bad(f"{value} is not in the range x>={self.low}.", self.hint)
            return value
        choices = [m.value for m in self.kind]
        if raw not in choices:
            listed = ", ".join(f"'{c}'" for c in choices)
            raise _bad(f"'{raw}' is not one of {listed}.", self.hint)
        return self.kind(raw)


_T = "Signatures and pins"


def _max_uncompressed() -> int:
    """--max-uncompressed's default, the walker's: read only by the commands that scan."""
    from .walker import DEFAULT_MAX_UNCOMPRESSED

    return DEFAULT_MAX_UNCOMPRESSED


def _fmt(kind: Any) -> _Opt:
    return _Opt("fmt", ("--format", "-f"), kind, "Output format.", kind.TEXT)


JOBS = _Opt("jobs", ("--jobs", "-j"), "int", "Blobs read in parallel (0: one per core).", 0, "N", 0)
FAST = _Opt("fast", ("--fast",), "flag", "Check stored digests and sizes only; skip decompression.")
STRICT = _Opt("strict", ("--strict",), "flag", "Treat warnings as failures.")
QUIET = _Opt("quiet", ("--quiet", "-q"), "flag", "No progress bar.")
LIMIT = _Opt("limit", ("--max-uncompressed",), "int", "Stop inflating a layer past this size.",
             None, "BYTES", 1)  # fmt: skip
TOP = _Opt("top", ("--top",), "int", "Largest files and wasters shown.", 10, "N", 0)
# CI gates (ocianalyze.gates): flags of verify and report, or keys of a TOML rules file.
GATES = (
    _Opt("fail_on", ("--fail-on",), "list", "Fail when these kinds are found.", None,
         "KIND[,KIND...]"),
    _Opt("min_efficiency", ("--min-efficiency",), "float", "Lowest image efficiency.", None,
         "0..1"),
    _Opt("max_wasted_bytes", ("--max-wasted-bytes",), "str", "Most wasted bytes.", None, "SIZE"),
    _Opt("max_wasted_percent", ("--max-wasted-percent",), "float",
         "Most wasted % of uncompressed.", None, "PCT"),
    _Opt("max_size", ("--max-size",), "list", "Largest image.", None,
         "PLATFORM[:stored|uncompressed|disk]=SIZE"),
    _Opt("rules_file", ("--rules",), "str", "TOML rules [.ocianalyze.toml].", None, "FILE"),
    _Opt("scheduler", ("--scheduler",), "str",
         "Scan blobs on a Dask cluster (its workers see the same paths), or on N local worker "
         "processes. Needs the dask extra.", None, "ADDRESS|local[:N]"),
)  # fmt: skip
# Signatures, attestations and pinned digests: checked only when one of these is given.
TRUST = tuple(
    _Opt(dest, flags, kind, text, None, metavar, group=_T)
    for dest, flags, kind, metavar, text in (
        ("key", ("--key",), "list", "FILE",
         "Trusted public key: PEM (ECDSA, RSA, Ed25519) or OpenPGP. Repeatable."),
        ("identity", ("--certificate-identity",), "str", "TEXT", "Keyless signer identity."),
        ("identity_re", ("--certificate-identity-regexp",), "str", "REGEXP", "... as a regexp."),
        ("issuer", ("--certificate-oidc-issuer",), "str", "TEXT", "Keyless OIDC issuer."),
        ("issuer_re", ("--certificate-oidc-issuer-regexp",), "str", "REGEXP", "... as a regexp."),
        ("root", ("--trusted-root",), "str", "FILE", "Sigstore trusted_root.json."),
        ("bundles", ("--bundle",), "list", "FILE", "Sigstore bundle file. Repeatable."),
        ("require_tlog", ("--require-tlog",), "flag", None, "Trust only tlog-backed signatures."),
        ("sign_identity", ("--sign-identity",), "str", "REF",
         "The docker-reference a signature must name."),
        ("require", ("--require-signature",), "flag", None,
         "Fail any runnable image without a verified signature."),
        ("expect", ("--expect",), "list", "SPEC",
         "Pinned digest, file of REF@DIGEST lines, or repo-info page. Repeatable."),
    )
)  # fmt: skip

# The rules file read from the working directory (gates.DEFAULT_FILE; a test checks they agree).
RULES_FILE = ".ocianalyze.toml"
PATH_HELP = "Export: directory, tar file (plain, .gz, .zst), or - for stdin."
PATHS_HELP = "Exports: directories, tar files (plain, .gz, .zst), or - for stdin."


class _Command:
    """A command: its function, positional arguments ``(name, help, many)`` (``many``: one or
    more) and options; the function is called with every dest as a keyword argument."""

    __slots__ = ("args", "options", "run")

    def __init__(
        self, run: Callable[..., None], args: tuple[tuple[str, str, bool], ...], *options: _Opt
    ) -> None:
        self.run, self.args, self.options = run, args, options

    @property
    def doc(self) -> str:
        return (self.run.__doc__ or "").strip()


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """argparse's help layout, sized to the terminal without importing shutil: argparse makes
    a formatter for every option it adds, and shutil costs 2 ms of every run's start."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=_columns() - 2)


def _columns() -> int:
    """The terminal's width as shutil.get_terminal_size finds it: $COLUMNS, stdout's, 80."""
    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return os.get_terminal_size(1).columns
    except (OSError, ValueError):
        return 80


class _Parser(argparse.ArgumentParser):
    """argparse, with every complaint turned into one usage line (never its own exit)."""

    def error(self, message: str) -> NoReturn:
        raise _Usage(message)


def _parser(name: str, command: _Command) -> _Parser:
    """The command's parser; options are read as text here and converted by _Opt.convert."""
    args = " ".join(a.upper() + ("..." if many else "") for a, _, many in command.args)
    parser = _Parser(
        prog=f"{_prog()} {name}",
        usage=f"{_prog()} {name} [OPTIONS] {args}",
        description=command.doc,
        add_help=False,
        allow_abbrev=False,
        formatter_class=_Formatter,
    )
    for arg, text, many in command.args:
        parser.add_argument(arg, nargs="*" if many else "?", help=text, metavar=arg.upper())
    groups: dict[str | None, Any] = {None: parser}
    for opt in command.options:
        where = groups.get(opt.group) or groups.setdefault(
            opt.group, parser.add_argument_group(opt.group)
        )
        text = opt.help.replace("%", "%%")
        default = _max_uncompressed() if opt is LIMIT else opt.default
        if default is not None and default is not False:
            text += f" [default: {getattr(default, 'value', default)}]"
        kw: dict[str, Any] = {"dest": opt.dest, "help": text, "default": None}
        if opt.kind == "flag":
            where.add_argument(*opt.flags, action="store_true", **kw)
            continue
        if opt.kind == "list":
            kw["action"] = "append"
        metavar = opt.metavar
        if metavar is None and not isinstance(opt.kind, str):
            metavar = "|".join(m.value for m in opt.kind)
        where.add_argument(*opt.flags, metavar=metavar or "TEXT", **kw)
    parser.add_argument("--help", action="store_true", help="Show this message and exit.")
    return parser


def _named(token: str, flags: tuple[str, ...]) -> str:
    """The spelling of an option as typed (``-f`` or ``--format``), for a message."""
    return next((f for f in flags if token == f or token.startswith(f + "=")), flags[0])


def _parse_error(exc: _Usage, parser: _Parser, argv: list[str]) -> _Usage:
    """argparse's complaints in the command line's own words."""
    import re

    found = re.fullmatch(r"argument (\S+): (expected one argument|ignored explicit argument .*)",
                         exc.message)  # fmt: skip
    if found is None:
        return exc
    flags = tuple(found[1].split("/"))
    typed = [_named(t, flags) for t in argv if any(t == f or t.startswith(f + "=") for f in flags)]
    name = typed[-1] if typed else max(flags, key=len)
    if found[2].startswith("expected"):
        return _Usage(f"Option '{name}' requires an argument.")
    return _Usage(f"Option '{name}' does not take a value.")


def _no_such_option(token: str, known: list[str]) -> _Usage:
    """An unknown option, with the near spellings of known ones (as click said it)."""
    name = token.split("=", 1)[0]
    message = f"No such option: {name}"
    if name.startswith("--"):
        from difflib import get_close_matches

        near = get_close_matches(name, [k for k in known if k.startswith("--")])
        if near:
            message += f" (Possible options: {', '.join(sorted(near))})"
    return _Usage(message)


def _help(text: str, code: int = EXIT_OK) -> NoReturn:
    _emit(text if text.endswith("\n") else text + "\n")
    raise Exit(code)


def _call(name: str, command: _Command, argv: list[str]) -> None:
    """Parse ``argv`` for ``command`` and run it. Order of the checks, as before: unknown
    options and missing values, then --help, then the options' values, then the arguments
    (missing, empty, standard input closed), then the command's own checks."""
    parser = _parser(name, command)
    try:
        ns, extra = parser.parse_known_intermixed_args(argv)
    except _Usage as exc:
        raise _parse_error(exc, parser, argv) from None
    unknown = [t for t in extra if t.startswith("-") and t != "-"]
    if unknown:
        raise _no_such_option(unknown[0], list(parser._option_string_actions))
    if ns.help:
        _help(parser.format_help())
    if extra:
        raise _Usage(f"Got unexpected extra argument(s) ({' '.join(extra)})")
    values = {opt.dest: opt.convert(getattr(ns, opt.dest)) for opt in command.options}
    for arg, _, many in command.args:
        given = getattr(ns, arg)
        if given is None or given == []:
            raise _Usage(f"Missing argument '{arg}'.")
        values[arg] = [_usable_path(p, arg) for p in given] if many else _usable_path(given, arg)
    if "limit" in values and values["limit"] is None:
        values["limit"] = _max_uncompressed()
    command.run(**values)


def _say(*parts: str) -> None:
    """One line on stderr, ``ocianalyze: part: part...``, each part escaped. A closed or full
    stderr changes nothing: the exit code still tells the outcome."""
    line = ": ".join(["ocianalyze", *(printable(p) for p in parts)]) + "\n"
    with suppress(OSError, ValueError, AttributeError):  # AttributeError: stderr is None
        sys.stderr.write(line)
        sys.stderr.flush()


def _fail(where: str, problem: str, code: int) -> NoReturn:
    _say(where, problem)
    raise Exit(code)


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
    except Exit:
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
        raise Exit(EXIT_OK) from None
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

    def __enter__(self) -> _NoBar:
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
    from .verify import Options, verify
    from .verify import open_export as open_for_verify
    from .walker import ScanOptions

    folder = os.path.isdir(path)  # noqa: PTH112 (pathlib: ~2 ms of start-up, see record.py)
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
) -> Trust | None:
    """The trust options; None when none was given (the trust package is not imported)."""
    if not any((key, identity, identity_re, issuer, issuer_re, root, bundles, require_tlog,
                sign_identity, require, expect)):  # fmt: skip
        return None
    from .trust import Trust

    return Trust(
        tuple(key or ()), identity, identity_re, issuer, issuer_re, root, tuple(bundles or ()),
        require_tlog, sign_identity, require, tuple(expect or ()),
    )  # fmt: skip


def _summary(trust: Trust | None, verifying: Callable[[], Verification], **kw: Any) -> Report:
    """Verify (``verifying()``), then check the signatures when a trust option was given: its
    files are read first, so a bad ``--key`` fails before a long read (the cryptography
    libraries are imported only then)."""
    from .analysis import summarize

    if trust is None or not trust.given:
        return summarize(verifying(), **kw)
    from .trust.check import check, load

    ctx = load(trust)
    v = verifying()
    return summarize(v, trust=check(v, trust, ctx), **kw)


def _emit(text: str) -> None:
    """Write ``text`` to stdout (see _Stdout: a reader that left is not an error)."""
    _Stdout.write(text)


def inspect(path: str, fmt: Format) -> None:
    """List every image: names, platform, manifest, image ID, layers. Reads metadata only."""
    with _guard(path):
        from .analysis import describe
        from .checks import with_metadata_problems  # not verify: no scanning machinery
        from .report import INSPECT
        from .sources import open_export

        export = with_metadata_problems(open_export(path))
        summary = describe(export.path, export.format, export.model)
        _emit(INSPECT[fmt](summary))
        for p in summary.problems:
            _say(p.line())
        if not summary.ok:
            raise Exit(EXIT_FAILED)


def _conclude(summary: Report, rules: Rules | None = None) -> None:
    """Exit 1 when the verdict fails or a gate does (one line on stderr per failed rule)."""
    failed = []
    if rules is not None:
        from .gates import check

        failed = check(rules, summary)
    for line in failed:
        _say("gate", line)
    if failed or not summary.ok:
        raise Exit(EXIT_FAILED)


def _rules(rules_file: str | None, **flags: object) -> Rules | None:
    """The gates from the flags over the rules file; a bad rule is a usage error (exit 2).
    None: no rule at all (no flag, no --rules, no rules file here), and no gates imported."""
    if rules_file is None and all(v in (None, [], ()) for v in flags.values()):
        try:
            here = os.path.lexists(os.path.join(os.getcwd(), RULES_FILE))  # noqa: PTH109, PTH118
        except OSError:  # the working directory was removed: it holds no rules file
            here = False
        if not here:
            return None
    from pathlib import Path  # here: pathlib costs start-up time that a run without gates saves

    from .gates import RulesError, rules

    try:
        cwd: Path | None = Path.cwd()
    except OSError:  # the working directory was removed: it holds no rules file
        cwd = None
    try:
        return rules({k.replace("_", "-"): v for k, v in flags.items()}, rules_file, cwd)
    except RulesError as exc:
        message = " ".join(str(exc).split())  # one line, whatever the TOML parser said
        raise _bad(message, exc.option) from None


def _checked(
    fmt: Any, paths: list[str], scheduler: str | None, rules_file: str | None, **kw: Any
) -> tuple[Rules | None, Trust | None]:
    """The checks verify and report make before reading: gates, formats, signature options."""
    gates = _rules(rules_file, **{k: kw.pop(k) for k in [o.dest for o in GATES[:5]]})
    _one_export_only(fmt.value, len(paths))
    trust = _trust(**kw)
    _trust_one_export(trust, len(paths), scheduler)
    return gates, trust


def verify_cmd(
    paths: list[str],
    fmt: VerifyFormat,
    jobs: int,
    fast: bool,
    strict: bool,
    quiet: bool,
    limit: int,
    scheduler: str | None,
    rules_file: str | None,
    **kw: Any,
) -> None:
    """Check every blob once: digests, sizes, compression, diff_ids, tar structure."""
    gates, trust = _checked(fmt, paths, scheduler, rules_file, **kw)
    merge = gates is not None and gates.needs_merge()
    with _guard(paths[0]):
        from .report import VERIFY

        if len(paths) > 1 or scheduler is not None:
            many = _Many(paths, scheduler, jobs, quiet, limit, strict, gates)
            many.run(VERIFY[fmt], fmt is VerifyFormat.JSON, fast=fast, entries=merge)
        run = partial(_verify, paths[0], jobs, fast, quiet, limit, entries=merge)
        summary = _summary(trust, run, strict=strict)
        _emit(VERIFY[fmt](summary))
        _conclude(summary, gates)


def report(
    paths: list[str],
    fmt: ReportFormat,
    jobs: int,
    strict: bool,
    quiet: bool,
    limit: int,
    top: int,
    scheduler: str | None,
    rules_file: str | None,
    **kw: Any,
) -> None:
    """Verify, then show every image: layer sizes (stored, uncompressed, on disk) and waste."""
    gates, trust = _checked(fmt, paths, scheduler, rules_file, **kw)
    with _guard(paths[0]):
        from .report import REPORT

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


def _trust_one_export(trust: Trust | None, paths: int, scheduler: str | None) -> None:
    """Signatures and pins are checked for one export at a time (run once per export)."""
    if trust is not None and trust.given and (paths > 1 or scheduler is not None):
        raise _bad("signature and --expect options take one export, without --scheduler")


def _one_export_only(fmt: str, paths: int) -> None:
    """Several exports are rendered as text or JSON only (one SARIF log, JUnit file or page
    per export: run once per export)."""
    if paths > 1 and fmt not in ("text", "json"):
        raise _bad(f"{fmt} takes one export, not {paths}", "--format")


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
        gates: Rules | None = None,
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
        from .verify import Options
        from .walker import ScanOptions

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
                raise Exit(EXIT_UNREADABLE)
            _emit(render(only))
        elif json:
            _emit(bd.bundle_json(b, info))
        else:
            _emit(bd.bundle_text(b, info, render if each else None))
        codes = {bd.Verdict.OK: EXIT_OK, bd.Verdict.FAILED: EXIT_FAILED}
        code = codes.get(b.verdict, EXIT_UNREADABLE)
        if self._gates_fail(b) and code == EXIT_OK:
            code = EXIT_FAILED
        raise Exit(code)

    def _gates_fail(self, b: Any) -> bool:
        """Each export's gates, one line per failed rule naming the export."""
        from .gates import check

        failed = False
        for e in b.entries:
            for line in check(self.gates, e.report) if self.gates and e.report else []:
                _say(e.path, "gate", line)
                failed = True
        return failed


def footprint(paths: list[str], fmt: Format, jobs: int, quiet: bool, limit: int) -> None:
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
            raise Exit(EXIT_FAILED)


def files(
    path: str,
    image: str | None,
    layer: int | None,
    merged: bool,
    fmt: Format,
    quiet: bool,
    limit: int,
) -> None:
    """List the files of one layer, or of the merged filesystem, like `tar -tv`."""
    with _guard(path):
        from .listing import Unlistable, choose_image, image_files
        from .report import files as files_report
        from .verify import Options
        from .verify import open_export as open_for_verify
        from .walker import ScanOptions

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




def diff_cmd(
    old: str,
    new: str,
    image: list[str] | None,
    platform: str | None,
    have: list[str] | None,
    fmt: DiffFormat,
    top: int,
    jobs: int,
    quiet: bool,
    limit: int,
) -> None:
    """What changed from OLD to NEW (images, layers, config, sizes, files) and what must cross.

    Exit 0: no difference; 1: differences (or a verification failed); 2: unreadable input."""
    if len(image or []) > 2:
        raise _bad("--image is given once (both sides) or twice (OLD, NEW)")
    if image and platform:  # --image picks the images; a platform filter would be ignored
        raise _bad("--image and --platform exclude each other (--image takes a platform too)")
    if any(not h.strip() for h in have or []):  # worded as an empty OLD or NEW is
        raise _bad("an empty path names no export", "'--have'")
    if [old, new, *(have or [])].count("-") > 1:  # the second reader would find it drained
        raise _bad("standard input (-) can be only one of OLD, NEW and --have")
    with _guard(old):
        from .diff.delta import read_held
        from .diff.paired import diff_by_pairs
        from .listing import choose_image
        from .report.diff import RENDERERS, problem_lines
        from .verify import Options, open_export
        from .walker import ScanOptions

        held = set().union(*map(read_held, have or []))
        # As _verify, but both exports opened first and read pair by pair (diff.paired).
        threads = _jobs(jobs)
        scan = ScanOptions(max_uncompressed=limit, collect_entries=True, split=threads > 1,
                           hash_files=True)  # fmt: skip
        if not (os.path.isdir(old) and os.path.isdir(new)):  # noqa: PTH112 (start-up, as above)
            _keep_freed_buffers()
        with _progress(quiet, None) as bar:
            ox, nx = (open_export(p, opts=scan, progress=bar.update) for p in (old, new))
            if _blob_bytes(ox) + _blob_bytes(nx) >= _TUNE_FROM:
                _keep_freed_buffers()
            bar.reset(total=_blob_bytes(ox) + _blob_bytes(nx))
            chosen = None
            if image:
                chosen = (choose_image(ox, image[0]), choose_image(nx, image[-1]))
            result, ov, nv = diff_by_pairs(ox, nx, Options(jobs=threads, scan=scan),
                                           chosen=chosen, platform=platform, held=held, top=top,
                                           progress=bar.update)  # fmt: skip
        if platform and not (result.images or result.added or result.removed):  # a typo
            raise OciError(f"--platform {platform}", "no image of it in OLD or in NEW")
        _emit(RENDERERS[fmt.value](result))
        for v in (ov, nv):
            for line in problem_lines(v.problems):
                _say(v.export.path, line)
        if result.differs or not (ov.ok() and nv.ok()):
            raise Exit(EXIT_FAILED)


_ONE = (("path", PATH_HELP, False),)
_MANY = (("paths", PATHS_HELP, True),)
_SIDES = (("old", PATH_HELP, False), ("new", PATH_HELP, False))
COMMANDS = {
    "inspect": _Command(inspect, _ONE, _fmt(Format)),
    "verify": _Command(verify_cmd, _MANY, _fmt(VerifyFormat), JOBS, FAST, STRICT, QUIET, LIMIT,
                       *GATES, *TRUST),
    "report": _Command(report, _MANY, _fmt(ReportFormat), JOBS, STRICT, QUIET, LIMIT, TOP,
                       *GATES, *TRUST),
    "footprint": _Command(footprint, (("paths", "One or more exports.", True),), _fmt(Format),
                          JOBS, QUIET, LIMIT),
    "files": _Command(
        files, _ONE,
        _Opt("image", ("--image",), "str", "Ref, digest or os/arch[/variant].", None, "IMAGE"),
        _Opt("layer", ("--layer",), "int", "List layer N (1 = base).", None, "N", 1),
        _Opt("merged", ("--merged",), "flag", "List the merged filesystem (default)."),
        _fmt(Format), QUIET, LIMIT,
    ),
    "diff": _Command(
        diff_cmd, _SIDES,
        _Opt("image", ("--image",), "list", "Compare this image (given twice: OLD's, then NEW's).",
             None, "IMAGE"),
        _Opt("platform", ("--platform",), "str", "Only images of os/arch[/variant].", None,
             "OS/ARCH[/VARIANT]"),
        _Opt("have", ("--have",), "list", "Export or digest list the receiving site holds too.",
             None, "EXPORT|FILE"),
        _fmt(DiffFormat), TOP, JOBS, QUIET, LIMIT,
    ),
}  # fmt: skip


def _root_help() -> str:
    width = max(map(len, COMMANDS)) + 2
    lines = [f"  {name:<{width}}{c.doc.splitlines()[0]}" for name, c in COMMANDS.items()]
    return (
        f"usage: {_prog()} [--version] [--help] COMMAND [ARGS]...\n\n"
        f"{ABOUT}\n\ncommands:\n" + "\n".join(lines) + "\n\n"
        "options:\n  --version  Show the version and exit.\n"
        "  --help     Show this message and exit.\n\n"
        f"Each command's options: {_prog()} COMMAND --help\n"
    )


def _dispatch(argv: list[str]) -> None:
    """The root: --help and --version (the first given wins), then the command."""
    options = []
    while argv and argv[0].startswith("-") and argv[0] != "-":
        options.append(argv.pop(0))
    for token in options:
        if token not in ("--help", "--version"):
            raise _no_such_option(token, ["--help", "--version"])
    if options:
        if options[0] == "--help":
            _help(_root_help())
        _help(f"ocianalyze {__version__}")
    if not argv:  # no arguments at all: show what there is to run
        _help(_root_help(), EXIT_UNREADABLE)
    name = argv.pop(0)
    command = COMMANDS.get(name)
    if command is None:
        raise _Usage(f"No such command '{name}'.")
    try:
        _call(name, command, argv)
    except _Usage as exc:
        exc.command = exc.command or name
        raise


def _write_err(text: str) -> None:
    with suppress(OSError, ValueError, AttributeError):  # a closed stderr changes nothing
        sys.stderr.write(text)


def _run(argv: list[str] | None = None) -> int:
    """Run the command line; a usage error becomes one line, as every other error does."""
    try:
        _dispatch(list(sys.argv[1:] if argv is None else argv))
    except Exit as exc:
        return exc.exit_code
    except _Usage as exc:
        where = f"{_prog()} {exc.command} --help" if exc.command else f"{_prog()} --help"
        _say("usage", f"{exc.message} (see {where})")
        return EXIT_UNREADABLE
    except OciError as exc:  # from an argument's check (standard input closed)
        _say(exc.where, exc.problem)
        return EXIT_UNREADABLE
    except _OutputFailed as exc:  # --version or the help on a closed or full stdout
        _say("stdout", exc.strerror)
        return EXIT_UNREADABLE
    except BrokenPipeError:  # the help text's reader went away: nothing was asked of us
        _drop_stdout()
        return EXIT_OK
    except OSError as exc:  # the commands are guarded: only the help text is written here
        _say("stdout", exc.strerror or str(exc))
        return EXIT_UNREADABLE
    return EXIT_OK


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
