"""The outer tar of a tarball export, read header by header in bounded memory.

This is the archive that *holds* an export (a ``docker save`` or an ``oci-archive``), not a
layer: its members are named files. Each 512-byte header is parsed here (one block, no reads of
its own); GNU long names and links and PAX records are read here with a
cap of 1 MiB each, as Go's archive/tar caps them, so a header that claims a 300 MiB name costs
an error, not 300 MiB. ``tarfile``'s own iteration reads such names whole.
"""

from __future__ import annotations

import posixpath
import re
import struct
from collections.abc import Iterator
from typing import NamedTuple, Protocol

BLOCK = 512
# Type flags (POSIX ustar, GNU and PAX), as ``tarfile`` names them; spelled out here because
# importing ``tarfile`` for them costs a millisecond of every run's start.
REGTYPE, AREGTYPE, LNKTYPE, SYMTYPE, DIRTYPE, CONTTYPE = b"0", b"\0", b"1", b"2", b"5", b"7"
GNUTYPE_LONGNAME, GNUTYPE_LONGLINK = b"L", b"K"
XHDTYPE, XGLTYPE, SOLARIS_XHDTYPE = b"x", b"g", b"X"
MAX_SPECIAL = 1 << 20  # bytes of a long name or of a PAX header block (Go: maxSpecialFileSize)
REGULAR = frozenset({REGTYPE, AREGTYPE, CONTTYPE})
# Types that are a member of their own (not a long name, PAX or global header).
_PLAIN = frozenset(bytes([t]) for t in b"0123456\0") | {CONTTYPE}
_HEADER_ONLY = frozenset(bytes([t]) for t in b"123456")  # links, devices, dirs, FIFOs


class OuterTarError(Exception):
    """The outer archive is not a tar we can read. ``truncated``: it ends inside a member."""

    def __init__(self, message: str, truncated: bool = False) -> None:
        super().__init__(message)
        self.truncated = truncated


class _Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


class Member(NamedTuple):
    """One member of the outer tar. ``offset``: where its data starts, in bytes from the
    start of the archive; ``size``: its data's length in bytes; ``link``: a symlink's or
    hardlink's target, as stored. A named tuple: one is built per member, and a frozen
    record's __init__ costs about twice as much."""

    name: str
    type: bytes
    size: int
    offset: int
    link: str

    @property
    def is_file(self) -> bool:
        return self.type in REGULAR

    @property
    def is_symlink(self) -> bool:
        return self.type == SYMTYPE

    @property
    def is_hardlink(self) -> bool:
        return self.type == LNKTYPE


# What normpath would change: a backslash, a leading "/" or "./", "." or ".." as a component,
# "//", a trailing "/".
_ODD = re.compile(r"\\|^\.{0,2}(?:/|$)|/\.{0,2}(?:/|$)")
MAX_NAME = 4096  # PATH_MAX: no export file is named longer, and names are kept in memory


def normalise(name: str) -> str | None:
    """A member name as a relative path inside the archive, or None if it would leave it (or
    is longer than any path an export uses: such a member is not indexed)."""
    if len(name) > MAX_NAME:
        return None
    if name and not _ODD.search(name):  # already normal: most names (normpath costs 2 µs)
        return name
    name = posixpath.normpath(name.replace("\\", "/")).lstrip("/") if name else ""
    if name in ("", ".") or name == ".." or name.startswith("../"):
        return None
    return name


class OuterTarReader:
    """Reads headers from ``stream``; the caller reads or skips each member's data.

    ``members()`` yields each member once its header (and any long-name or PAX block before
    it) is read. Before the next iteration the caller must have consumed exactly ``size``
    bytes through ``read_data`` or not at all: what is left is skipped, with the padding.
    """

    def __init__(self, stream: _Readable) -> None:
        self._stream = stream
        self._pos = 0
        self._left = 0  # data bytes of the current member not yet read by the caller

    def _read_exact(self, n: int) -> bytes:
        parts, want = [], n
        while want > 0:
            data = self._stream.read(min(want, 1 << 20))
            if not data:
                raise OuterTarError("the archive ends inside a member", truncated=True)
            parts.append(data)
            want -= len(data)
        self._pos += n
        return b"".join(parts)

    def _read_block_rest(self, block: bytes) -> bytes:
        """The rest of a header block begun with ``block`` (pipes read short); less only at
        the end of the stream."""
        rest = b""
        while 0 < len(block) + len(rest) < BLOCK:
            more = self._stream.read(BLOCK - len(block) - len(rest))
            if not more:
                break
            rest += more
        return rest

    def _skip(self, n: int) -> None:
        seek = getattr(self._stream, "seek", None)
        if seek is not None and n > 0:
            seek(n, 1)
            self._pos += n
            return
        while n > 0:  # read and dropped, never joined
            data = self._stream.read(min(n, 1 << 20))
            if not data:
                raise OuterTarError("the archive ends inside a member", truncated=True)
            self._pos += len(data)
            n -= len(data)

    def read_data(self, n: int) -> bytes:
        """Up to ``n`` bytes of the current member's data; b"" at its end."""
        n = min(n, self._left)
        if n <= 0:
            return b""
        data = self._stream.read(n)
        if not data:
            raise OuterTarError("the archive ends inside a member", truncated=True)
        self._left -= len(data)
        self._pos += len(data)
        return data

    def _finish_member(self, size: int) -> None:
        self._skip(self._left + (-size % BLOCK))
        self._left = 0

    def _special(self, size: int, what: str) -> bytes:
        if size > MAX_SPECIAL:
            raise OuterTarError(f"{what} of {size} bytes (the limit is {MAX_SPECIAL})")
        data = self._read_exact(size)
        self._skip(-size % BLOCK)
        return data

    def members(self) -> Iterator[Member]:
        """Every member, with GNU long names and PAX path/linkpath/size applied. Raises
        OuterTarError on a damaged header or an archive that ends inside a member."""
        long_name: str | None = None
        long_link: str | None = None
        pax: dict[str, str] = {}
        previous = 0
        read = self._stream.read
        while True:
            if previous or self._left:
                self._finish_member(previous)
            previous = 0
            block = read(BLOCK)
            if len(block) != BLOCK:  # short: a pipe's partial read, or the end
                block += self._read_block_rest(block)
            if len(block) < BLOCK:
                if not block and self._pos > 0:
                    return  # an archive without its end blocks: Go accepts it
                raise OuterTarError("the archive ends inside a header", truncated=bool(block))
            self._pos += BLOCK
            if not any(block):
                return  # end-of-archive marker; what follows is padding
            info = _Header(block)
            kind = info.type
            if kind in _PLAIN and not (pax or long_name or long_link):  # the common case
                size = 0 if kind in _HEADER_ONLY else info.size
                self._left = previous = size
                yield Member(info.name, kind, size, self._pos, info.linkname)
                continue
            if kind in (GNUTYPE_LONGNAME, GNUTYPE_LONGLINK):
                text = _cstring(self._special(info.size, "a GNU long name"))
                if kind == GNUTYPE_LONGNAME:
                    long_name = text
                else:
                    long_link = text
                continue
            if kind in (XHDTYPE, SOLARIS_XHDTYPE):
                pax = _pax(self._special(info.size, "a PAX header"))  # the last one applies
                continue
            if kind == XGLTYPE:
                self._special(info.size, "a PAX global header")  # no member of its own
                continue
            name = pax.get("path", long_name if long_name is not None else info.name)
            link = pax.get("linkpath", long_link if long_link is not None else info.linkname)
            size = _pax_size(pax.get("size"), info.size)
            long_name = long_link = None
            pax = {}
            if kind in _HEADER_ONLY:  # as Go: these carry no data, whatever the size says
                size = 0
            self._left = size
            previous = size
            yield Member(name, kind, size, self._pos, link)


_SIGNED = struct.Struct("148b8x356b")


class _Header:
    """One 512-byte header, parsed as Go's archive/tar and ``tarfile`` agree: the checksum
    (unsigned or signed sum), octal or base-256 size, the ustar prefix, a NUL typeflag with a
    trailing slash as a directory. A few struct reads: ``tarfile.TarInfo.frombuf`` costs ten
    times as much per member, and a tarball may hold a million members."""

    __slots__ = ("linkname", "name", "size", "type")

    def __init__(self, block: bytes) -> None:
        stored = _octal(block[148:156], "checksum")
        unsigned = sum(block) - sum(block[148:156]) + 256
        if stored != unsigned and stored != sum(_SIGNED.unpack(block)) + 256:
            raise OuterTarError("invalid tar header (bad checksum)")
        name = _cstring(block[:100])
        if block[345] and block[257:263] == b"ustar\0":
            name = f"{_cstring(block[345:500])}/{name}"
        self.type = block[156:157]
        if self.type == AREGTYPE and name.endswith("/"):
            self.type = DIRTYPE
        self.name = name
        self.linkname = _cstring(block[157:257]) if block[157] else ""
        self.size = _number(block[124:136], "size")


_OCTAL: dict[bytes, int] = {}  # fields seen: sizes and checksums repeat across members


def is_header(block: bytes) -> bool:
    """True when ``block`` (the first 512 bytes of a file) is a tar header: not all zeros,
    with a valid checksum."""
    if len(block) < BLOCK or not any(block[:BLOCK]):
        return False
    try:
        _Header(block[:BLOCK])
    except OuterTarError:
        return False
    return True


def _octal(field: bytes, what: str) -> int:
    known = _OCTAL.get(field)
    if known is not None:
        return known
    text = field.split(b"\0", 1)[0].strip()
    try:
        value = int(text or b"0", 8)
    except ValueError:
        raise OuterTarError(f"invalid tar header (bad {what} field)") from None
    if len(_OCTAL) < 1 << 16:
        _OCTAL[field] = value
    return value


def _number(field: bytes, what: str) -> int:
    """An octal number, or GNU base-256 (first byte 0x80); negative sizes are refused."""
    if field[0] == 0x80:
        return int.from_bytes(field[1:], "big")
    if field[0] & 0x80:
        raise OuterTarError(f"invalid tar header (negative {what})")
    return _octal(field, what)


def _cstring(data: bytes) -> str:
    return data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _pax(data: bytes) -> dict[str, str]:
    """PAX records (``"%d %s=%s\\n"``). Raises OuterTarError on a malformed record."""
    out: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        if data[pos] == 0:
            break
        space = data.find(b" ", pos)
        if space < 0 or not data[pos:space].isdigit():
            raise OuterTarError("malformed PAX record")
        length = int(data[pos:space])
        record = data[space + 1 : pos + length]
        if length <= space - pos or pos + length > len(data) or not record.endswith(b"\n"):
            raise OuterTarError("malformed PAX record")
        key, eq, value = record[:-1].partition(b"=")
        if not eq:
            raise OuterTarError("malformed PAX record")
        out[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return out


def _pax_size(value: str | None, default: int) -> int:
    if value is None:
        return default
    if not value.isdigit() or len(value) > 19 or int(value) >= 1 << 63:
        raise OuterTarError(f"invalid PAX size {value[:40]!r}")
    return int(value)
