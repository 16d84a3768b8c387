"""An incremental tar header walker: fed decompressed chunks, it reads headers and skips file
data without copying it.

Go's ``archive/tar`` Reader (what Docker and containerd unpack layers with) is the definition:
every header form is read, accepted or refused as ``Reader.Next`` does (go/src/archive/tar
reader.go, strconv.go, format.go): ustar, STAR, GNU (long names and links, base-256 numbers,
old sparse ``S`` entries with extension blocks) and PAX (the last ``x`` header before an entry
applies; ``g`` headers apply to nothing, as in Docker; GNU.sparse 0.0, 0.1 and 1.0). Numbers and
times parse as Go parses them, so every value fits in an int64. ``tarfile``'s stream mode costs
about ten times more per header, reads some headers differently from Go, and raises on archives
that end without their two zero blocks, which real tools (umoci) write and Go accepts.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import struct
import zlib
from collections.abc import Callable
from types import ModuleType
from typing import Any, NamedTuple

from .record import record

_scan: ModuleType | None
try:  # the optional C loop over common headers (see _tarscan.c); this module is the fallback
    from . import _tarscan as _scan
except ImportError:  # pragma: no cover - built wherever a C compiler was at hand
    _scan = None

ACCELERATED = _scan is not None

BLOCK = 512
# name, mode, uid, gid, size, mtime, (checksum), typeflag, linkname, magic+version
_FIELDS = struct.Struct("100s8s8s8s12s12s8xc100s8s")
DISK_BLOCK = 4096
MAX_SPECIAL = 1 << 20  # PAX and GNU long-name records larger than this are refused (as Go does)
_INT64 = 1 << 63
_C_MAX_SKIP = 1 << 62  # the C loop takes the bytes left to skip as a C long long
_HEADER_ONLY = frozenset(b"123456")  # Go's isHeaderOnlyType: no data follows, whatever the size
_DIR = ord("5")
_FILE_TYPES = frozenset(b"07S")  # regular, contiguous, old GNU sparse
_ZERO = bytes(BLOCK)
_EMPTY_SHA256 = hashlib.sha256().digest()
_DECIMAL = re.compile(rb"[+-]?[0-9]+")  # the syntax strconv.ParseInt(s, 10, 64) accepts
_V7, _USTAR, _STAR, _GNU = range(4)  # header formats, as Go's block.getFormat tells them


class TarEntry(NamedTuple):
    """One member. A named tuple, not a frozen record: one is built per header, and a record's
    __init__ (a slot setter call per field) costs about twice as much.

    size is the logical size for files (a sparse file's real size, holes included; 0 for other
    types); mtime is whole seconds since the epoch, an int in the int64 range (Go's
    ``Header.ModTime.Unix()``: sub-second PAX times round down), possibly far outside the years
    a calendar library accepts."""

    name: str  # normalised: no leading "./" or "/", no trailing "/"
    type: str  # "file", "dir", "symlink", "hardlink", "char", "block", "fifo", "other"
    size: int
    mode: int
    uid: int
    gid: int
    mtime: float  # always an int (see above); annotated float while EntryTable stores doubles
    linkname: str
    raw_name: str  # as stored (after PAX, GNU long-name and sparse-name records), for safety


_TYPES = {
    ord("1"): "hardlink",
    ord("2"): "symlink",
    ord("3"): "char",
    ord("4"): "block",
    ord("5"): "dir",
    ord("6"): "fifo",
}


class TarError(Exception):
    """The stream is not a valid tar archive. ``kind`` is "not_a_tar" or "truncated"."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@record(frozen=False)
class TarStats:
    """What one layer holds, in bytes and counts.

    file_bytes: the logical sizes of regular files (a sparse file counts its real size).
    disk_bytes: regular files rounded up to 4096-byte blocks plus one block per directory;
    links, devices and whiteouts take no data blocks. A sparse file counts its logical size
    here too, not the data stored in the tar: Docker and containerd copy each file with
    io.Copy from Go's tar.Reader, whose Read returns the holes as zero bytes (its sparse-aware
    WriteTo is not exported), so the unpacked file is written in full and is not sparse.
    """

    entries: int = 0
    files: int = 0
    dirs: int = 0
    symlinks: int = 0
    hardlinks: int = 0
    others: int = 0
    whiteouts: int = 0
    opaque_whiteouts: int = 0
    file_bytes: int = 0
    disk_bytes: int = 0
    newest_mtime: float | None = None  # an int, as TarEntry.mtime
    clean_end: bool = False  # the archive ended with its end-of-archive zero blocks

    def merge(self, counts: tuple[int, ...], newest: float | None) -> None:
        """Add what the C loop counted, in its order: entries, files, dirs, symlinks,
        hardlinks, others, whiteouts, opaque_whiteouts, file_bytes, disk_bytes."""
        if not counts[0]:
            return
        self.entries += counts[0]
        self.files += counts[1]
        self.dirs += counts[2]
        self.symlinks += counts[3]
        self.hardlinks += counts[4]
        self.others += counts[5]
        self.whiteouts += counts[6]
        self.opaque_whiteouts += counts[7]
        self.file_bytes += counts[8]
        self.disk_bytes += counts[9]
        if newest is not None and (self.newest_mtime is None or newest > self.newest_mtime):
            self.newest_mtime = newest

    def add(self, entry: TarEntry) -> None:
        self.entries += 1
        if self.newest_mtime is None or entry.mtime > self.newest_mtime:
            self.newest_mtime = entry.mtime
        base = entry.name.rpartition("/")[2]
        if base.startswith(".wh."):
            if base == ".wh..wh..opq":
                self.opaque_whiteouts += 1
            else:
                self.whiteouts += 1
        elif entry.type == "file":
            self.files += 1
            self.file_bytes += entry.size
            self.disk_bytes += -(-entry.size // DISK_BLOCK) * DISK_BLOCK
        elif entry.type == "dir":
            self.dirs += 1
            self.disk_bytes += DISK_BLOCK
        elif entry.type == "symlink":
            self.symlinks += 1
        elif entry.type == "hardlink":
            self.hardlinks += 1
        else:
            self.others += 1


# ---- numbers, strings and records, as Go's strconv.go parses them ----


def _cstr(field: bytes) -> bytes:
    """parser.parseString: up to the first NUL."""
    return field.partition(b"\0")[0]


def _octal(field: bytes) -> int:
    """parser.parseOctal: spaces and NULs trimmed at both ends, then up to the first NUL, then
    strconv.ParseUint(s, 8, 64) (digits only: no sign, underscore or blank). ValueError."""
    digits = field.strip(b" \0").partition(b"\0")[0]
    if not digits:
        return 0
    if digits.translate(None, b"01234567"):
        raise ValueError("not octal")
    value = int(digits, 8)
    if value >> 64:
        raise ValueError("octal number past 64 bits")
    return value - (value >> 63 << 64)  # int64(x), as Go converts


def _numeric(field: bytes) -> int:
    """parser.parseNumeric: GNU base-256 (two's complement, the top bit a marker) when the
    first byte has its top bit set, octal otherwise; ValueError past 63 bits or on bad octal."""
    if not field or not field[0] & 0x80:
        return _octal(field)
    bits = 8 * len(field)
    value = int.from_bytes(field, "big")
    negative = field[0] & 0x40
    if negative:
        value ^= (1 << bits) - 1
    value &= (1 << (bits - 1)) - 1  # the marker bit
    if value >> 63:
        raise ValueError("base-256 number past 63 bits")
    return ~value if negative else value


def _parse_int(text: bytes) -> int:
    """strconv.ParseInt(text, 10, 64): an optional sign and ASCII digits, within int64."""
    if not _DECIMAL.fullmatch(text):
        raise ValueError("not a decimal number")
    value = int(text)
    if not -_INT64 <= value < _INT64:
        raise ValueError("decimal number out of int64 range")
    return value


def _pax_time(text: bytes) -> int:
    """parsePAXTime, as whole seconds the way time.Time.Unix() gives them: "%d[.%d]" with a
    sign; a fraction rounds toward negative infinity (-1.5 is -2), int64 arithmetic wrapping
    as Go's does. "nan", "inf", "1e9" and an empty string are errors (ValueError)."""
    secs_text, dot, frac = text.partition(b".")
    secs = _parse_int(secs_text)
    if not dot or not frac:
        return secs
    if frac.translate(None, b"0123456789"):
        raise ValueError("bad fraction in PAX time")
    if secs_text.startswith(b"-") and frac[:9].strip(b"0"):
        secs -= 1  # time.Unix(secs, -nsecs) normalises into the second before
        return secs + (1 << 64) if secs < -_INT64 else secs
    return secs


def _checksum_ok(block: bytes) -> bool:
    """block.getFormat's check: the octal checksum field equals the unsigned or the signed
    byte sum of the header, the field itself counted as eight spaces."""
    try:
        stored = _octal(block[148:156])
    except ValueError:
        return False
    unsigned = _byte_sum(block) - sum(block[148:156]) + 256
    if stored == unsigned:
        return True
    high = sum(1 for b in block[:148] + block[156:] if b > 127)
    return stored == unsigned - 256 * high


def _byte_sum(block: bytes) -> int:
    """The exact sum of a 512-byte block, in C: adler32's low half is 1 + the byte sum modulo
    65521, and 256 bytes sum to at most 65280. Three times faster than sum() per header."""
    return (zlib.adler32(block[:256]) & 0xFFFF) + (zlib.adler32(block[256:]) & 0xFFFF) - 2


def _format(block: bytes) -> int:
    """block.getFormat after the checksum: which fields beyond V7's the header has."""
    magic = block[257:265]
    if magic[:6] == b"ustar\0":
        return _STAR if block[508:512] == b"tar\0" else _USTAR
    return _GNU if magic == b"ustar  \0" else _V7


_UNCLEAN_START = ("/", "./", "../")
_UNCLEAN_END = ("/", "/.", "/..")


def _normalise(name: str) -> str:
    """The path a runtime writes the member to, relative to the layer's root: Docker's and
    containerd's appliers set ``hdr.Name = filepath.Clean(hdr.Name)`` and join it to the root,
    so "/a", "./a", "a/", "a//b", "a/./b" and "a/x/../b" are "a" or "a/b" there. A ".." that
    climbs above a relative name stays (the safety checks refuse it); above a rooted one it
    is dropped, as Clean does. The root itself is "."."""
    if not (
        name.startswith(_UNCLEAN_START)
        or name.endswith(_UNCLEAN_END)
        or "//" in name
        or "/./" in name
        or "/../" in name
        or name in ("", ".", "..")
    ):
        return name  # the common case, kept cheap
    # posixpath.normpath is Go's Clean but for a leading "//", which it keeps (POSIX leaves it
    # to the system): the lstrip makes every rooted name relative anyway.
    return posixpath.normpath(name).lstrip("/") or "."


if _scan is not None:  # the C loop cleans names through the same function: one rule
    _scan.set_normalise(_normalise)

_SPARSE_OFFSET, _SPARSE_NUMBYTES = b"GNU.sparse.offset", b"GNU.sparse.numbytes"
_SPARSE_MAP = b"GNU.sparse.map"
_NO_NUL_VALUE = frozenset((b"path", b"linkpath", b"uname", b"gname"))


def _pax_records(data: bytes) -> dict[bytes, bytes]:
    """parsePAX: "%d %s=%s\\n" records, a later key replacing an earlier one; GNU sparse 0.0
    offset/numbytes pairs gathered, in order, into one GNU.sparse.map value. ValueError."""
    records: dict[bytes, bytes] = {}
    pairs: list[bytes] = []
    pos, end = 0, len(data)
    while pos < end:
        space = data.find(b" ", pos)
        if space < 0:
            raise ValueError("PAX record without a length")
        length = _parse_int(data[pos:space])
        if length < 5 or length > end - pos or length <= space + 1 - pos:
            raise ValueError("bad PAX record length")
        stop = pos + length
        if data[stop - 1] != 0x0A:
            raise ValueError("PAX record without its newline")
        key, eq, value = data[space + 1 : stop - 1].partition(b"=")
        if not eq or not key or b"\0" in (value if key in _NO_NUL_VALUE else key):
            raise ValueError("bad PAX record")
        if key in (_SPARSE_OFFSET, _SPARSE_NUMBYTES):
            if (key == _SPARSE_OFFSET) != (len(pairs) % 2 == 0) or b"," in value:
                raise ValueError("GNU sparse 0.0 records out of order")
            pairs.append(value)
        else:
            records[key] = value
        pos = stop
    if pairs:
        records[_SPARSE_MAP] = b",".join(pairs)
    return records


class _SparseMap:
    """validateSparseEntries, one region at a time: regions in order, not overlapping, within
    the logical size (ValueError otherwise). Constant memory however many regions there are."""

    __slots__ = ("data", "end", "size")

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError("negative sparse file size")
        self.size = size
        self.end = 0
        self.data = 0  # the bytes of all regions: what the tar must store for them

    def check_stored(self, stored: int) -> None:
        """Reading the file (as an applier copies it) fails in Go unless the regions hold
        exactly the data stored: errMissData (less stored) or errUnrefData (more)."""
        if self.data != stored:
            raise ValueError("sparse map does not match the data stored")

    def add(self, offset: int, length: int) -> None:
        if (
            offset < 0
            or length < 0
            or offset > _INT64 - 1 - length
            or offset + length > self.size
            or self.end > offset
        ):
            raise ValueError("bad sparse map region")
        self.end = offset + length
        self.data += length

    def add_old_gnu(self, area: bytes) -> None:
        """The 24-byte (offset, length) slots of an old GNU header or extension block, up to
        the first whose offset starts with NUL (GNU and BSD tar stop there too)."""
        for at in range(0, len(area) - 23, 24):
            if area[at] == 0:
                break
            self.add(_numeric(area[at : at + 12]), _numeric(area[at + 12 : at + 24]))


def _pax_sparse(records: dict[bytes, bytes]) -> str | None:
    """readGNUSparsePAXHeaders' choice: "0.1" (0.0 is read as 0.1), "1.0", or None (not
    sparse, including an unknown version)."""
    major = records.get(b"GNU.sparse.major", b"")
    minor = records.get(b"GNU.sparse.minor", b"")
    if major == b"0" and minor in (b"0", b"1"):
        return "0.1"
    if major == b"1" and minor == b"0":
        return "1.0"
    if major or minor:
        return None
    return "0.1" if records.get(_SPARSE_MAP) else None


def _count(text: bytes) -> int:
    """A sparse region count, as Go checks it: ParseInt, not negative, 2n within int64."""
    value = _parse_int(text)
    if value < 0 or value >= 1 << 62:
        raise ValueError("bad sparse region count")
    return value


def _read_map_0x1(records: dict[bytes, bytes], smap: _SparseMap) -> None:
    """readGNUSparseMap0x1: GNU.sparse.numblocks regions listed in GNU.sparse.map."""
    count = _count(records.get(b"GNU.sparse.numblocks", b""))
    listed = records.get(_SPARSE_MAP, b"")
    numbers = listed.split(b",") if listed else []
    if len(numbers) != 2 * count:
        raise ValueError("GNU.sparse.map does not hold numblocks regions")
    for i in range(0, len(numbers), 2):
        smap.add(_parse_int(numbers[i]), _parse_int(numbers[i + 1]))


class _Map1x0:
    """readGNUSparseMap1x0, streaming: the map at the start of the file data, decimal numbers
    one per line (the count, then offset and length per region), in whole 512-byte blocks.
    Only the token being read is kept (bounded), not the blocks, so a map costs no memory."""

    __slots__ = ("count", "map", "pending", "token")

    def __init__(self, smap: _SparseMap) -> None:
        self.map = smap
        self.count: int | None = None
        self.pending: list[int] = []  # an offset waiting for its length
        self.token = b""

    def block(self, block: bytes) -> bool:
        """Take one block of the data; True once the whole map has been read. ValueError."""
        parts = block.split(b"\n")
        for part in parts[:-1]:
            if self._token(self.token + part):
                return True
            self.token = b""
        self.token = _shorten(self.token + parts[-1])
        return False

    def _token(self, text: bytes) -> bool:
        value = _parse_int(text)
        if self.count is None:
            self.count = _count(text)
        elif self.pending:
            self.map.add(self.pending.pop(), value)
            self.count -= 1
        else:
            self.pending.append(value)
        return self.count == 0


def _shorten(token: bytes) -> bytes:
    """A partial token kept short: ParseInt reads any number of leading zeros, so drop them;
    a token still long after that can never parse, and a short invalid one stands for it."""
    if len(token) <= 64:
        return token
    sign = token[:1] if token[:1] in (b"+", b"-") else b""
    body = token[len(sign) :]
    if body.translate(None, b"0123456789"):
        return b"x"
    body = body.lstrip(b"0") or b"0"
    return sign + body if len(body) <= 32 else b"x"


def _read_header(block: bytes) -> tuple[bytes, bytes, int, int, int, int, int]:
    """Reader.readHeader's fields: (name, linkname, size, mode, uid, gid, mtime). Every number
    the format has must parse (ValueError otherwise, Go's ErrHeader), used or not."""
    name_f, mode_f, uid_f, gid_f, size_f, mtime_f, _, link_f, _ = _FIELDS.unpack_from(block)
    size, mode, mtime = _numeric(size_f), _numeric(mode_f), _numeric(mtime_f)
    uid, gid = _numeric(uid_f), _numeric(gid_f)
    name = _cstr(name_f)
    fmt = _format(block)
    if fmt != _V7:
        _numeric(block[329:337])  # devmajor
        _numeric(block[337:345])  # devminor
        prefix = b""
        if fmt == _USTAR:
            prefix = _cstr(block[345:500])
        elif fmt == _STAR:
            prefix = _cstr(block[345:476])
            _numeric(block[476:488])  # atime
            _numeric(block[488:500])  # ctime
        else:  # GNU: atime and ctime where set; if they do not parse, a pre-Go 1.8 prefix
            try:
                if block[345]:
                    _numeric(block[345:357])
                if block[357]:
                    _numeric(block[357:369])
            except ValueError:
                text = _cstr(block[345:500])
                prefix = text if text.isascii() else b""
        if prefix:
            name = prefix + b"/" + name
    return name, _cstr(link_f), size, mode, uid, gid, mtime


def _merge_pax(
    records: dict[bytes, bytes], fields: tuple[bytes, bytes, int, int, int, int, int]
) -> tuple[bytes, bytes, int, int, int, int, int]:
    """mergePAX: the records override the header's fields; an empty value keeps the header's.
    uid, gid and size parse as ParseInt, the times as parsePAXTime (ValueError)."""
    name, link, size, mode, uid, gid, mtime = fields
    for key, value in records.items():
        if not value:
            continue
        if key == b"path":
            name = value
        elif key == b"linkpath":
            link = value
        elif key == b"size":
            size = _parse_int(value)
        elif key == b"uid":
            uid = _parse_int(value)
        elif key == b"gid":
            gid = _parse_int(value)
        elif key == b"mtime":
            mtime = _pax_time(value)
        elif key in (b"atime", b"ctime"):
            _pax_time(value)  # unused, but Go refuses the header where they do not parse
    return name, link, size, mode, uid, gid, mtime


# name, typeflag, size (logical), mode, uid, gid, mtime, linkname
_Fields = tuple[bytes, int, int, int, int, int, int, bytes]


@record(frozen=False)
class _Held:
    """An entry whose sparse map is still being read (old GNU extension blocks, or the PAX
    1.0 map at the start of its data); Go returns it only once the map is read."""

    fields: _Fields
    stored: int  # data bytes after the header (and its extension blocks)
    smap: _SparseMap
    reader: _Map1x0 | None  # None: old GNU extension blocks
    blocks_left: int = 0  # whole blocks of data the 1.0 map may still take


class TarWalker:
    """Feed it the tar stream in chunks of any size; it calls ``on_entries`` with the members
    it finds, in order, a batch at a time (one for each run of headers the C loop reads).

    The entries are those Go's Reader.Next returns, less PAX global headers (typeflag 'g'):
    they apply to no entry, and Docker's applier skips them. Memory is bounded by one special
    record (1 MiB, Go's limit) whatever the headers say: each PAX header replaces the last,
    and sparse maps are checked region by region, never stored.

    ``on_file_hash``, when given, is called as ``on_file_hash(i, sha256)`` once the data of
    the i-th entry (0-based, counting what ``on_entries`` got) has passed, for every regular
    file that is not sparse: the 32-byte sha256 of its bytes, hashed as they go by (no copy
    kept, no second read). The C loop then stops after each file header with data, so that
    the data passes here.

    ``on_screened``, when given, is called instead of ``on_entries`` with a batch the C loop
    screened: none of its entries is one the safety checks look at one by one (see
    SafetyChecker.check_screened and _tarscan.c). Other batches, and every batch with
    ``on_file_hash``, go to ``on_entries``."""

    def __init__(
        self,
        on_entries: Callable[[list[TarEntry]], None] | None = None,
        *,
        accelerated: bool = True,
        on_file_hash: Callable[[int, bytes], None] | None = None,
        on_screened: Callable[[list[TarEntry]], None] | None = None,
    ) -> None:
        self.stats = TarStats()
        self._on_entries = on_entries
        self._on_screened = on_screened or on_entries
        self._c = _scan if accelerated else None
        self._on_hash = on_file_hash
        self._hasher: Any = None  # a sha256 of the file whose data is passing
        self._hash_left = 0  # its bytes still to come
        self._hash_index = 0
        # With hashing, entries and digests are handed over once per chunk fed, in batches
        # (one entry at a time costs the listing and the safety checks five times as much).
        self._batch: list[TarEntry] | None = [] if on_file_hash is not None else None
        self._digests: list[tuple[int, bytes]] = []
        self._pending = bytearray()  # a partial block or special record
        self._skip = 0  # file data (and padding) still to pass over
        self._padding = 0  # how much of _skip is padding: a stream may end inside it
        self._want = BLOCK  # bytes the next step takes
        # The state's handler, kept as the class's function, not as a bound method: a bound
        # method stored on the walker would be a reference cycle, and the walker (with the
        # entry table its callbacks fill) would then be freed only by the cycle collector.
        self._step: Callable[[TarWalker, bytes], None] = TarWalker._header
        self._plain = True  # at a header with nothing pending: the C loop may take over
        self._pax: dict[bytes, bytes] | None = None  # the last 'x' header's records
        self._long_name = b""
        self._long_link = b""
        self._special = 0  # the typeflag of the special record being read
        self._after = 0  # its padding
        self._held: _Held | None = None
        self._zero_blocks = 0
        self._headers = 0  # non-zero header blocks read here (not by the C loop)
        self._offset = 0  # of the next byte fed, for messages
        self._offset_at = 0  # of the block being parsed

    def feed(self, chunk: bytes | memoryview) -> None:
        self._feed(chunk)
        if self._batch or self._digests:
            self._flush()

    def _feed(self, chunk: bytes | memoryview) -> None:
        # A memoryview (a decoder's reused buffer) is not copied whole: the C loop and the
        # hashers read it in place, and only the blocks handed to a step become bytes.
        view = chunk
        pos, n = 0, len(view)
        while pos < n:
            if (
                self._c is not None
                and self._plain
                and self._skip < _C_MAX_SKIP
                and not self._hash_left  # file data to hash: it passes below
            ):
                pos = self._walk_common(view, pos)
                if pos >= n:
                    break
            if self._skip:
                step = min(self._skip, n - pos)
                if self._hash_left:
                    self._hash_data(view, pos, step)
                self._skip -= step
                pos += step
                continue
            if self.stats.clean_end:
                return  # bytes after the end-of-archive marker are padding
            want = self._want
            if not self._pending and n - pos >= want:  # the common case: no copy to a buffer
                self._offset_at = self._offset + pos
                pos += want
                block = view[pos - want : pos]
                self._step(self, block if isinstance(block, bytes) else bytes(block))
                continue
            take = min(want - len(self._pending), n - pos)
            self._pending += view[pos : pos + take]
            pos += take
            if len(self._pending) == want:
                data = bytes(self._pending)
                self._pending.clear()
                self._offset_at = self._offset + pos - want
                self._step(self, data)
        self._offset += n

    def _flush(self) -> None:
        """Hand over the entries batched in this chunk, then the digests found (an entry's
        digest may come in a later chunk than the entry: never before it)."""
        assert self._batch is not None and self._on_hash is not None
        if self._on_entries is not None:
            self._on_entries(self._batch)
        self._batch = []
        for index, digest in self._digests:
            self._on_hash(index, digest)
        self._digests = []

    def _hash_data(self, view: bytes | memoryview, pos: int, step: int) -> None:
        """Hash the file data among the ``step`` bytes skipped from ``pos`` (the padding is
        not the file's); at the file's last byte, hand its digest over."""
        assert self._on_hash is not None
        take = min(step, self._hash_left)
        self._hasher.update(memoryview(view)[pos : pos + take])
        self._hash_left -= take
        if not self._hash_left:
            self._digests.append((self._hash_index, self._hasher.digest()))
            self._hasher = None

    def _walk_common(self, view: bytes | memoryview, pos: int) -> int:
        """Let the C loop take the common headers from ``pos``; it stops where one needs the
        code below (a partial or zero block, an extended header, anything unusual)."""
        assert self._c is not None
        emit = self._on_entries
        if self._batch is None:
            pos, self._skip, self._padding, entries, counts, newest, screened = self._c.walk(
                view, pos, self._skip, self._padding, TarEntry if emit else None
            )
        else:  # hashing: stop at each file's data, and batch the entries with Python's
            pos, self._skip, self._padding, entries, counts, newest, screened = self._c.walk(
                view, pos, self._skip, self._padding, TarEntry, True
            )
        self.stats.merge(counts, newest)
        if self._batch is not None and entries:
            self._hash_from_c(entries)
        elif emit is not None and entries:  # TarEntry instances, made in C
            screened_emit = self._on_screened
            (screened_emit if screened and screened_emit is not None else emit)(entries)
        return int(pos)

    def _hash_from_c(self, entries: list[TarEntry]) -> None:
        """Batch what the C loop read and start hashing: an empty file's digest is known;
        the C loop stopped after the last entry when it is a file whose data follows."""
        assert self._batch is not None
        first = self.stats.entries - len(entries)
        self._batch += entries
        for i, e in enumerate(entries, first):
            if e.type == "file" and not e.size:
                self._digests.append((i, _EMPTY_SHA256))
        last = entries[-1]
        if last.type == "file" and last.size and self._skip > self._padding:
            self._hash_index = first + len(entries) - 1
            self._hasher, self._hash_left = hashlib.sha256(), last.size

    def finish(self) -> TarStats:
        """The counts, once the stream has ended. TarError "truncated" where it ends inside
        an entry, a special record or a sparse map (Go: io.ErrUnexpectedEOF); an end at a
        header boundary, or inside the padding after some data, is Go's io.EOF: no error,
        and ``clean_end`` tells whether the end-of-archive blocks were there."""
        if self.stats.clean_end:
            return self.stats
        if self._skip > self._padding or self._pending or self._step is not TarWalker._header:
            raise TarError("truncated", "tar stream ends inside an entry")
        # Only padding (or nothing) is missing after the last entry: umoci 0.4 writes such
        # tars and Go's reader accepts them, so the caller reports a missing end marker.
        if not (self.stats.entries or self._headers or self._zero_blocks):
            raise TarError("not_a_tar", "empty stream, not a tar archive")
        return self.stats

    def _bad(self, what: str) -> TarError:
        return TarError("not_a_tar", f"{what} in the tar header near byte {self._offset_at}")

    def _header(self, block: bytes) -> None:
        if block == _ZERO:
            self._zero_blocks += 1
            self._plain = False
            if self._zero_blocks == 2:
                self.stats.clean_end = True
            return
        if self._zero_blocks:
            raise TarError("not_a_tar", "tar header after an end-of-archive block")
        self._headers += 1
        if not _checksum_ok(block):
            raise TarError("not_a_tar", f"invalid tar header checksum near byte {self._offset_at}")
        try:
            fields = _read_header(block)
        except ValueError:
            raise self._bad("invalid number") from None
        typeflag, size = block[156], fields[2]
        if size < 0 and typeflag not in _HEADER_ONLY:
            raise self._bad("negative size")
        if typeflag in b"xgLK":
            if size > MAX_SPECIAL:
                raise self._bad(f"extended header too large ({size} bytes)")
            self._plain = False
            self._special, self._after = typeflag, -size % BLOCK
            self._want, self._step = size, TarWalker._special_done
            if size == 0:
                self._special_done(b"")
            return
        self._entry(block, typeflag, fields)

    def _special_done(self, data: bytes) -> None:
        """A PAX header or GNU long name or link read whole: it applies to the next entry
        (each replacing the one of its kind before it, as in Go)."""
        self._want, self._step = BLOCK, TarWalker._header
        self._skip = self._padding = self._after
        if self._special == ord("L"):
            self._long_name = _cstr(data)
        elif self._special == ord("K"):
            self._long_link = _cstr(data)
        else:
            try:
                records = _pax_records(data)
            except ValueError:
                raise self._bad("malformed PAX extended header") from None
            if self._special == ord("x"):
                self._pax = records
            else:  # 'g': Next returns it alone, so nothing read before it carries over
                self._pax, self._long_name, self._long_link = None, b"", b""
                self._plain = True

    def _entry(
        self, block: bytes, typeflag: int, header: tuple[bytes, bytes, int, int, int, int, int]
    ) -> None:
        """Reader.next's default case: PAX records, then GNU long name and link, then the
        legacy trailing-slash directory, then the sparse forms."""
        records, self._pax = self._pax, None
        try:
            fields = _merge_pax(records, header) if records else header
        except ValueError:
            raise self._bad("invalid PAX record value") from None
        name, link, size, mode, uid, gid, mtime = fields
        name = self._long_name or name
        link = self._long_link or link
        self._long_name = self._long_link = b""
        if typeflag == 0:
            typeflag = _DIR if name.endswith(b"/") else ord("0")
        header_only = typeflag in _HEADER_ONLY
        if size < 0 and not header_only:
            raise self._bad("negative size")
        stored = 0 if header_only else size
        smap: _SparseMap | None = None
        reader: _Map1x0 | None = None
        try:
            if typeflag == ord("S"):
                if _format(block) != _GNU:
                    raise ValueError("old GNU sparse entry in a header that is not GNU")
                smap = _SparseMap(_numeric(block[483:495]))
                size = smap.size
                smap.add_old_gnu(block[386:482])
                if not block[482]:
                    smap.check_stored(stored)
            elif records and (version := _pax_sparse(records)) is not None:
                name = records.get(b"GNU.sparse.name") or name
                real = records.get(b"GNU.sparse.size") or records.get(b"GNU.sparse.realsize")
                size = _parse_int(real) if real else size
                if header_only:  # Go finds no data to read the map from, or refuses it
                    raise ValueError("sparse map on an entry without data")
                smap = _SparseMap(size)
                if version == "0.1":
                    _read_map_0x1(records, smap)
                    smap.check_stored(stored)
                elif stored < BLOCK:
                    raise ValueError("no room for the sparse map in the data")
                else:
                    reader = _Map1x0(smap)
        except ValueError:
            raise self._bad("invalid GNU sparse header") from None
        fields8 = (name, typeflag, size, mode, uid, gid, mtime, link)
        if smap is not None and (reader is not None or (typeflag == ord("S") and block[482])):
            self._held = _Held(fields8, stored, smap, reader, stored // BLOCK)
            self._plain = False
            self._want, self._step = BLOCK, TarWalker._sparse_block
            return
        self._emit(fields8, stored, 0, hashable=smap is None)

    def _sparse_block(self, block: bytes) -> None:
        """One more block of a sparse map: an old GNU extension block (not counted in the
        entry's size), or a block of a 1.0 map (the first blocks of the entry's data)."""
        held = self._held
        assert held is not None
        try:
            if held.reader is None:
                held.smap.add_old_gnu(block[:504])
                done = not block[504]
            else:
                held.blocks_left -= 1
                done = held.reader.block(block)
                if not done and not held.blocks_left:
                    raise ValueError("sparse map runs past the entry's data")
            used = 0 if held.reader is None else held.stored // BLOCK - held.blocks_left
            if done:
                held.smap.check_stored(held.stored - used * BLOCK)
        except ValueError:
            raise self._bad("invalid GNU sparse map") from None
        if done:
            self._held = None
            self._want, self._step = BLOCK, TarWalker._header
            self._emit(held.fields, held.stored, used * BLOCK)

    def _emit(self, fields: _Fields, stored: int, used: int, hashable: bool = False) -> None:
        """Hand the entry over and skip its data (less the ``used`` bytes of a 1.0 map);
        ``hashable``: the stored data is the file's content (not a sparse file's regions)."""
        name, typeflag, size, mode, uid, gid, mtime, link = fields
        kind = _TYPES.get(typeflag) or ("file" if typeflag in _FILE_TYPES else "other")
        raw = name.decode("utf-8", "surrogateescape")
        entry = TarEntry(
            _normalise(raw),
            kind,
            size if kind == "file" else 0,
            mode,
            uid,
            gid,
            mtime,
            link.decode("utf-8", "surrogateescape"),
            raw,
        )
        self.stats.add(entry)
        if self._batch is not None:
            self._batch.append(entry)
        elif self._on_entries is not None:
            self._on_entries([entry])
        self._padding = -stored % BLOCK
        self._skip = stored - used + self._padding
        self._plain = True
        if hashable and self._on_hash is not None and kind == "file":
            self._hash_index = self.stats.entries - 1
            if stored:
                self._hasher, self._hash_left = hashlib.sha256(), stored
            else:
                self._digests.append((self._hash_index, _EMPTY_SHA256))
