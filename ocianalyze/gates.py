"""CI gates: rules a run must meet besides verifying, as dive's CI mode has them.

A rule comes from a flag of `verify` or `report` or from a TOML rules file (``--rules FILE``,
or ``.ocianalyze.toml`` in the working directory), whose keys are the flag names without the
dashes (``min-efficiency = 0.9``); a flag given on the command line replaces the file's value.

- ``fail-on``: kinds (any severity) that fail the run when found, ``KIND[,KIND...]``.
- ``min-efficiency``: each image's efficiency (``1 - wasted / file bytes of every layer``,
  as `report` computes it) must be at least this, a number from 0 to 1.
- ``max-wasted-bytes``: each image's wasted bytes must be at most this ``SIZE``.
- ``max-wasted-percent``: each image's wasted bytes, as a percentage of its uncompressed size
  (the bytes of its layer tars), must be at most this number (``10`` is 10%).
- ``max-size``: ``PLATFORM[:MEASURE]=SIZE``, repeatable: each image of that platform (``*``:
  every platform; ``linux/arm64`` also names ``linux/arm64/v8``) must be at most SIZE, where
  MEASURE is ``stored`` (compressed layer bytes, the default), ``uncompressed`` or ``disk``
  (the on-disk estimate of `report`).

``SIZE`` is a whole number of bytes with an optional unit: ``kB``, ``MB``, ``GB`` (powers of
1000) or ``KiB``, ``MiB``, ``GiB`` (powers of 1024), e.g. ``120MiB``. Only images (not
attestations, signatures or artifacts) are measured. A gate passes only on a value it saw:
a rule whose measure was not taken (``verify --fast`` reads no layer's content; a layer that
could not be read) fails with ``value not measured``, and a ``fail-on`` of a kind found only
in a layer's tar with ``value not checked``.
"""

from __future__ import annotations

import enum
import importlib
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import Kind
from .record import record

if TYPE_CHECKING:
    from .analysis import ImageAnalysis, Report

DEFAULT_FILE = ".ocianalyze.toml"
_UNITS = {"": 1, "B": 1, "kB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}  # fmt: skip
# ASCII digits only (``\d`` takes any script's), at most 30 of them: Python refuses to read
# an integer of more than 4300 digits, and no image is that large.
_SIZE = re.compile(r"\s*([0-9]{1,30})\s*([A-Za-z]*)\s*")
_PLATFORM = re.compile(r"\*|[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+){0,2}")
MAX_FILE = 1 << 20  # bytes: a rules file is a few lines; a larger one is not one
_KINDS = {k.value: k for k in Kind}


class RulesError(ValueError):
    """A rule cannot be read: a bad value, an unknown key, a rules file that is not TOML.
    ``option`` names the flag (or ``--rules``) it came from."""

    def __init__(self, option: str, problem: str) -> None:
        super().__init__(problem)
        self.option = option


class Measure(str, enum.Enum):
    """What ``max-size`` measures: the image's totals as `report` gives them."""

    STORED = "stored"
    UNCOMPRESSED = "uncompressed"
    DISK = "disk"


@record
class SizeLimit:
    platform: str  # "*" or os[/arch[/variant]]
    measure: Measure
    limit: int  # bytes
    text: str  # as the user wrote it, to name the rule


@record
class Rules:
    """The gates of one run; ``None`` or empty: that rule is not set."""

    fail_on: tuple[Kind, ...] = ()
    min_efficiency: float | None = None
    max_wasted_bytes: int | None = None
    max_wasted_percent: float | None = None
    max_size: tuple[SizeLimit, ...] = ()

    def needs_merge(self) -> bool:
        """Whether a rule needs the waste analysis (so `verify` must keep the entries)."""
        waste = (self.min_efficiency, self.max_wasted_bytes, self.max_wasted_percent)
        return any(v is not None for v in waste)


# --- parsing -------------------------------------------------------------------------------


def parse_size(text: str, option: str) -> int:
    """``"120MiB"`` -> 125829120; a bare number is bytes. Raises RulesError."""
    m = _SIZE.fullmatch(text)
    if not m or m.group(2) not in _UNITS:
        raise RulesError(option, f"{text!r} is no size (a number of bytes, or e.g. 120MiB, 50MB)")
    return int(m.group(1)) * _UNITS[m.group(2)]


def parse_fail_on(values: Iterable[str], option: str = "--fail-on") -> tuple[Kind, ...]:
    """Kinds from ``KIND[,KIND...]`` items, first-seen order, no repeats. Raises RulesError."""
    kinds: dict[Kind, None] = {}
    for value in values:
        for name in filter(None, (n.strip() for n in value.split(","))):
            if name not in _KINDS:
                raise RulesError(option, f"{name!r} is no problem kind (see the README's table)")
            kinds[_KINDS[name]] = None
    return tuple(kinds)


def parse_max_size(text: str, option: str = "--max-size") -> SizeLimit:
    """``PLATFORM[:MEASURE]=SIZE``, e.g. ``linux/amd64:disk=120MiB``. Raises RulesError."""
    target, sep, size = text.partition("=")
    platform, _, measure = target.strip().partition(":")
    if not sep or not platform:
        raise RulesError(option, f"{text!r} is not PLATFORM[:MEASURE]=SIZE")
    if not _PLATFORM.fullmatch(platform):
        raise RulesError(option, f"{platform!r} is not * nor os[/arch[/variant]]")
    if measure and measure not in {m.value for m in Measure}:
        raise RulesError(option, f"{measure!r} is not one of stored, uncompressed, disk")
    return SizeLimit(platform, Measure(measure or "stored"), parse_size(size, option), text)


def _number(value: object, option: str, low: float, high: float | None = None) -> float:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise RulesError(option, f"{value!r} is not a number") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RulesError(option, f"{value!r} is not a number")
    if not low <= value <= (high if high is not None else float("inf")):
        bound = f"from {low:g} to {high:g}" if high is not None else f"at least {low:g}"
        raise RulesError(option, f"{value!r} is out of range ({bound})")
    return float(value)


def _strings(value: object, option: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise RulesError(option, "expected a string or an array of strings")


def _toml() -> Any:
    """tomllib (Python 3.11+), else tomli (its backport), imported only to read a file."""
    for name in ("tomllib", "tomli"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise RulesError("--rules", "reading a rules file needs Python 3.11+ or the tomli package")


def read_file(path: Path) -> dict[str, Any]:
    """The rules file as a dict of known keys. Raises RulesError (unreadable, not TOML,
    an unknown key): one line naming the file."""
    toml = _toml()
    try:
        doc: dict[str, Any] = toml.loads(_read_bounded(path).decode("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise RulesError("--rules", f"{path}: {reason}") from None
    except toml.TOMLDecodeError as exc:
        raise RulesError("--rules", f"{path}: not TOML: {exc}") from None
    unknown = sorted(set(doc) - set(KEYS))
    if unknown:
        known = ", ".join(KEYS)
        raise RulesError("--rules", f"{path}: unknown key {unknown[0]!r} (known: {known})")
    return doc


def _read_bounded(path: Path) -> bytes:
    """The first bytes of ``path``, at most MAX_FILE of them. Raises OSError (a directory, a
    file larger than MAX_FILE: ``/dev/zero`` never ends). A pipe is read as ``cat`` reads it
    (``--rules <(...)``); a FIFO nobody writes to reads as empty rather than blocking."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # open() of a writerless FIFO blocks
    os.set_blocking(fd, True)
    with open(fd, "rb") as f:
        data = f.read(MAX_FILE + 1)
    if len(data) > MAX_FILE:
        raise OSError(0, f"larger than {MAX_FILE} bytes: not a rules file")
    return data


KEYS = ("fail-on", "min-efficiency", "max-wasted-bytes", "max-wasted-percent", "max-size")


def rules(flags: Mapping[str, Any], rules_file: str | None, cwd: Path | None) -> Rules:
    """The run's rules: the file's (``rules_file``, else ``cwd/.ocianalyze.toml`` when it
    exists; ``cwd`` None, a working directory that was removed: none), each replaced by its
    flag when ``flags[key]`` is not None/empty. Flags are keyed by the file's key names.
    Raises RulesError."""
    if rules_file == "":
        raise RulesError("--rules", "an empty path names no file")
    path = Path(rules_file) if rules_file is not None else Path(cwd or ".") / DEFAULT_FILE
    # The default file is read when anything has that name: a directory or a dangling link
    # there is a mistake to report, not a reason to run without the repository's rules.
    there = rules_file is not None or (cwd is not None and os.path.lexists(path))
    doc = read_file(path) if there else {}
    merged = dict(doc)
    merged.update({k: v for k, v in flags.items() if v not in (None, [], ())})

    out: dict[str, Any] = {}
    for key, value in merged.items():
        if key in flags and flags[key] not in (None, [], ()):
            out[key.replace("-", "_")] = _PARSE[key](value, f"--{key}")
            continue
        try:
            out[key.replace("-", "_")] = _PARSE[key](value, "--rules")
        except RulesError as exc:
            raise RulesError("--rules", f"{path}: {key}: {exc}") from None
    return Rules(**out)


def _wasted_bytes(value: object, option: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return int(_number(value, option, 0))
    if isinstance(value, str):
        return parse_size(value, option)
    raise RulesError(option, f"{value!r} is no size")


_PARSE: dict[str, Any] = {
    "fail-on": lambda v, o: parse_fail_on(_strings(v, o), o),
    "min-efficiency": lambda v, o: _number(v, o, 0, 1),
    "max-wasted-bytes": _wasted_bytes,
    "max-wasted-percent": lambda v, o: _number(v, o, 0),
    "max-size": lambda v, o: tuple(parse_max_size(t, o) for t in _strings(v, o)),
}


# --- checking ------------------------------------------------------------------------------


def check(r: Rules, report: Report) -> list[str]:
    """One line per failed rule: ``<rule>: limit <limit>, value <value>[ (<image>)]``, in the
    order the rules are documented. An empty list: every gate passed.

    A rule whose measure was not taken for an image (``verify --fast`` reads no layer's
    content; a layer that could not be read) fails with ``value not measured``: a gate
    passes only on a value it saw."""
    failed = _fail_on(r, report)
    for a in _images(report):
        failed += _waste(r, a) if a.merge is not None else _unmeasured_waste(r, a)
    for a in _images(report):
        failed += _sizes(r, a)
    return failed


# Kinds found only by reading a layer's tar: `verify --fast` (digests and sizes only) never
# sees them, so a `fail-on` of one of them cannot pass a run whose layers were not read.
_CONTENT_KINDS = frozenset(
    {Kind.UNSAFE_PATH, Kind.LINK_ESCAPE, Kind.DEVICE_NODE, Kind.DEVICE_NODE_OUTSIDE_DEV,
     Kind.SETUID, Kind.DUPLICATE_ENTRY, Kind.CASE_COLLISION, Kind.BAD_HARDLINK,
     Kind.MISSING_END_OF_ARCHIVE, Kind.NOT_A_TAR, Kind.DIFF_ID_MISMATCH}
)  # fmt: skip


def _fail_on(r: Rules, report: Report) -> list[str]:
    found: dict[Kind, int] = {}
    for p in report.problems:
        if p.kind in r.fail_on:
            found[p.kind] = found.get(p.kind, 0) + p.count
    unread = any(not (f.scan and f.scan.tar) for a in report.images for f in a.layers)
    out = []
    for k in r.fail_on:
        if k in found:
            out.append(f"fail-on {k.value}: limit 0, value {found[k]}")
        elif unread and k in _CONTENT_KINDS:
            out.append(
                f"fail-on {k.value}: limit 0, value not checked (--fast, or a layer not read)"
            )
    return out


def _images(report: Report) -> list[ImageAnalysis]:
    from .model import ManifestKind

    return [a for a in report.images if a.image.kind is ManifestKind.IMAGE]


_UNMEASURED = "value not measured (--fast, or a layer not read)"


def _unmeasured_waste(r: Rules, a: ImageAnalysis) -> list[str]:
    """The waste rules set, for an image whose merged filesystem was not computed. An image
    without layers wastes nothing."""
    if not a.layers:
        return []
    rules = {"min-efficiency": r.min_efficiency, "max-wasted-bytes": r.max_wasted_bytes,
             "max-wasted-percent": r.max_wasted_percent}  # fmt: skip
    return [
        f"{rule}: limit {limit if isinstance(limit, int) else format(limit, 'g')}, "
        f"{_UNMEASURED} (image {a.image.name})"
        for rule, limit in rules.items()
        if limit is not None
    ]


def _measured(a: ImageAnalysis, measure: Measure) -> bool:
    """Whether every layer gave ``measure`` (stored sizes are the descriptors': always)."""
    if measure is Measure.STORED:
        return True
    if measure is Measure.UNCOMPRESSED:
        return all(f.scan and f.scan.uncompressed_size is not None for f in a.layers)
    return all(f.scan and f.scan.tar for f in a.layers)


def _waste(r: Rules, a: ImageAnalysis) -> list[str]:
    m = a.merge
    assert m is not None  # check() calls _unmeasured_waste for the others
    name = a.image.name
    out = []
    if r.min_efficiency is not None and m.efficiency < r.min_efficiency:
        out.append(f"min-efficiency: limit {r.min_efficiency:g}, value {round(m.efficiency, 6)}")
    if r.max_wasted_bytes is not None and m.wasted_bytes > r.max_wasted_bytes:
        out.append(f"max-wasted-bytes: limit {r.max_wasted_bytes}, value {m.wasted_bytes}")
    size = a.totals.uncompressed_size
    percent = 100 * m.wasted_bytes / size if size else 0.0
    if r.max_wasted_percent is not None and percent > r.max_wasted_percent:
        out.append(f"max-wasted-percent: limit {r.max_wasted_percent:g}, value {round(percent, 4)}")
    return [f"{line} (image {name})" for line in out]


def _matches(rule: str, platform: str) -> bool:
    if rule == "*":
        return True
    want, have = rule.split("/"), platform.split("/")
    return have[: len(want)] == want


def _sizes(r: Rules, a: ImageAnalysis) -> list[str]:
    platform = str(a.image.platform) if a.image.platform else "unknown"
    t = a.totals
    values = {Measure.STORED: t.size, Measure.UNCOMPRESSED: t.uncompressed_size,
              Measure.DISK: t.disk_bytes}  # fmt: skip
    out = []
    for s in r.max_size:
        if not _matches(s.platform, platform):
            continue
        rule = f"max-size {s.platform}:{s.measure.value}: limit {s.limit}"
        if not _measured(a, s.measure):
            out.append(f"{rule}, {_UNMEASURED} (image {a.image.name}, {platform})")
        elif values[s.measure] > s.limit:
            out.append(f"{rule}, value {values[s.measure]} (image {a.image.name}, {platform})")
    return out
