"""Renderers for `files`: a `tar -tv` style listing, or JSON.

Both come as a stream of chunks (``*_chunks``) so that a listing of a million files is written
as it is produced, in constant memory; ``files_text`` and ``files_json`` join them for callers
that want one string.
"""

from __future__ import annotations

import functools
import json
import math
import stat
from collections.abc import Iterable, Iterator
from itertools import islice
from json.encoder import encode_basestring_ascii as _quote
from typing import Any

from ..tarwalk import TarEntry
from .escape import printable

_TYPE_BITS = {
    "file": stat.S_IFREG,
    "dir": stat.S_IFDIR,
    "symlink": stat.S_IFLNK,
    "hardlink": stat.S_IFREG,
    "char": stat.S_IFCHR,
    "block": stat.S_IFBLK,
    "fifo": stat.S_IFIFO,
}
_BATCH = 1024  # entries per chunk: few writes, little memory
_DAY = 86400


@functools.lru_cache(maxsize=1024)  # a listing holds few distinct (type, mode) pairs
def _filemode(kind: str, mode: int) -> str:
    text = stat.filemode(_TYPE_BITS.get(kind, 0) | (mode & 0o7777))
    return "h" + text[1:] if kind == "hardlink" else text


def _mode(e: TarEntry) -> str:
    return _filemode(e.type, e.mode)


def seconds(mtime: float) -> int | None:
    """An entry's mtime as whole seconds since the epoch (floored), or None when it is not a
    finite number (a PAX ``mtime=nan``). Any int is kept: Go's archive/tar reads base-256
    times far outside what the C library's gmtime takes."""
    if isinstance(mtime, int):
        return mtime
    return math.floor(mtime) if math.isfinite(mtime) else None


def _civil(days: int) -> tuple[int, int, int]:
    """(year, month, day) of the proleptic Gregorian calendar ``days`` after 1970-01-01, for
    any int (H. Hinnant's days_from_civil inverse; datetime stops at year 9999)."""
    days += 719468
    era = days // 146097
    doe = days - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (month <= 2), month, day


@functools.lru_cache(maxsize=4096)  # the files of a layer share few times: format each once
def when(mtime: float) -> str:
    """``YYYY-MM-DD HH:MM`` (UTC) for any time; ``????-??-?? ??:??`` when it is not a number."""
    secs = seconds(mtime)
    if secs is None:
        return "????-??-?? ??:??"
    days, rest = divmod(secs, _DAY)
    year, month, day = _civil(days)
    return f"{year:04d}-{month:02d}-{day:02d} {rest // 3600:02d}:{rest % 3600 // 60:02d}"


def _line(e: TarEntry) -> str:
    kind = e.type
    if kind == "symlink":
        link = f" -> {printable(e.linkname)}"
    elif kind == "hardlink":
        link = f" link to {printable(e.linkname)}"
    else:
        link = ""
    mode = _filemode(kind, e.mode)
    return f"{mode} {e.uid}/{e.gid} {e.size:>10} {when(e.mtime)} {printable(e.name)}{link}\n"


def files_text_chunks(entries: Iterable[TarEntry]) -> Iterator[str]:
    """The `tar -tv` listing, one chunk of lines at a time (names made printable)."""
    it = iter(entries)
    while chunk := "".join(map(_line, islice(it, _BATCH))):
        yield chunk


def files_text(entries: Iterable[TarEntry]) -> str:
    return "".join(files_text_chunks(entries))


def _record(e: TarEntry) -> dict[str, Any]:
    return {
        "path": e.name,
        "type": e.type,
        "mode": e.mode & 0o7777,
        "uid": e.uid,
        "gid": e.gid,
        "size": e.size,
        "mtime": seconds(e.mtime),
        "link": e.linkname or None,
    }


def _json_entry(e: TarEntry) -> str:
    """One entry as ``json.dumps(_record(e), indent=2)`` nested two levels deep writes it."""
    secs = seconds(e.mtime)
    return (
        f'    {{\n      "path": {_quote(e.name)},\n      "type": {_quote(e.type)},\n'
        f'      "mode": {e.mode & 0o7777},\n      "uid": {e.uid},\n      "gid": {e.gid},\n'
        f'      "size": {e.size},\n      "mtime": {"null" if secs is None else secs},\n'
        f'      "link": {_quote(e.linkname) if e.linkname else "null"}\n    }}'
    )


def files_json_chunks(image: str, layer: int | None, entries: Iterable[TarEntry]) -> Iterator[str]:
    """The JSON document of files_doc, as json.dumps(indent=2) writes it, in chunks. Times
    are ints or null, never NaN or Infinity."""
    head = f'{{\n  "schema_version": 1,\n  "image": {_quote(image)},\n'
    yield head + f'  "layer": {"null" if layer is None else layer},\n  "entries": ['
    it = iter(entries)
    first = True
    while batch := list(islice(it, _BATCH)):
        yield ("\n" if first else ",\n") + ",\n".join(map(_json_entry, batch))
        first = False
    yield "]\n}\n" if first else "\n  ]\n}\n"


def unlistable_json(image: str, layer: int | None, error: str) -> str:
    """The JSON document when the listing cannot be made: ``entries`` is null (an empty list
    would claim an empty layer) and ``error`` says why."""
    doc = {"schema_version": 1, "image": image, "layer": layer, "entries": None, "error": error}
    return json.dumps(doc, indent=2) + "\n"


def files_doc(image: str, layer: int | None, entries: Iterable[TarEntry]) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "image": image,
        "layer": layer,
        "entries": [_record(e) for e in entries],
    }


def files_json(image: str, layer: int | None, entries: Iterable[TarEntry]) -> str:
    return "".join(files_json_chunks(image, layer, entries))
