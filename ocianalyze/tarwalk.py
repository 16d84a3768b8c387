"""An incremental tar header walker: fed decompressed chunks, it reads headers and skips file
data without copying it.

It understands ustar, GNU (long names and links, base-256 numbers) and PAX (path, linkpath,
size, mtime) headers, and counts what an unpacked layer holds. ``tarfile``'s stream mode costs
about ten times more per header and raises on archives that end without their two zero blocks,
which real tools (umoci) write and Go's reader accepts.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import NamedTuple

_scan: ModuleType | None
try:  # the optional C loop over common headers (see _tarscan.c); this module is the fallback
    from . import _tarscan as _scan
except ImportError:  # pragma: no cover - built wherever a C compiler was at hand
    _scan = None

ACCELERATED = _scan is not None

BLOCK = 512
# name, mode, uid, gid, (size, skipped), mtime, (checksum, typeflag), linkname, magic, prefix
_FIELDS = struct.Struct("100s8s8s8s12x12s8xx100s6s82x155s")
DISK_BLOCK = 4096
MAX_SPECIAL = 1 << 20  # PAX and GNU long-name records larger than this are refused (as Go does)
_INT64 = 1 << 63
_C_MAX_SKIP = 1 << 62  # the C loop takes the bytes left to skip as a C long long
_HEADER_ONLY = frozenset(b"123456")
_DIR = ord("5")  # hardlink, symlink, char, block, dir, fifo: no data
_REGULAR = frozenset(b"07S") | {0}


class TarEntry(NamedTuple):
    """One member. A named tuple, not a frozen dataclass: one is built per header, and a frozen
    dataclass's __init__ (object.__setattr__ per field) costs three times as much."""

    name: str  # normalised: no leading "./" or "/", no trailing "/"
    type: str  # "file", "dir", "symlink", "hardlink", "char", "block", "fifo"
    size: int
    mode: int
    uid: int
    gid: int
    mtime: float
    linkname: str
    raw_name: str  # as stored, for safety checks


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


@dataclass(slots=True)
class TarStats:
    """What one layer holds. disk_bytes: regular files rounded up to 4096-byte blocks plus one
    block per directory; links, devices and whiteouts take no data blocks."""

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
    newest_mtime: float | None = None
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


def _number(field: bytes) -> int:
    if field and field[0] & 0x80:  # GNU base-256
        value = int.from_bytes(field, "big", signed=False) & ~(0x80 << (8 * (len(field) - 1)))
        return -value if field[0] & 0x40 else value
    return int(field.partition(b"\0")[0] or b"0", 8)  # int() skips surrounding spaces


def _text(field: bytes) -> str:
    return field.partition(b"\0")[0].decode("utf-8", "surrogateescape")


def _byte_sum(block: bytes) -> int:
    """The exact sum of a 512-byte block, in C: adler32's low half is 1 + the byte sum modulo
    65521, and 256 bytes sum to at most 65280. Three times faster than sum() per header."""
    return (zlib.adler32(block[:256]) & 0xFFFF) + (zlib.adler32(block[256:]) & 0xFFFF) - 2


def _checksum_ok(block: bytes) -> bool:
    try:
        stored = _number(block[148:156])
    except ValueError:
        return False
    unsigned = _byte_sum(block) - sum(block[148:156]) + 256  # the field counts as 8 spaces
    if stored == unsigned:
        return True
    # Some old writers summed signed chars: each byte over 127 counts 256 less.
    high = sum(1 for b in block[:148] + block[156:] if b > 127)
    return stored == unsigned - 256 * high


def _normalise(name: str) -> str:
    if not name.startswith(("./", "/")) and not name.endswith("/"):
        return name  # the common case, kept cheap
    while name.startswith("./"):
        name = name[2:]
    return name.lstrip("/").rstrip("/") or "."


def _pax_records(data: bytes) -> dict[str, str]:
    records, pos = {}, 0
    while pos < len(data):
        space = data.index(b" ", pos)
        length = int(data[pos:space])
        if length <= 0:
            raise ValueError("bad PAX record length")
        key, _, value = data[space + 1 : pos + length - 1].partition(b"=")
        records[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return records


class TarWalker:
    """Feed it the tar stream in chunks of any size; it calls ``on_entries`` with the members
    it finds, in order, a batch at a time (one for each run of headers the C loop reads)."""

    def __init__(
        self,
        on_entries: Callable[[list[TarEntry]], None] | None = None,
        *,
        accelerated: bool = True,
    ) -> None:
        self.stats = TarStats()
        self._on_entries = on_entries
        self._c = _scan if accelerated else None
        self._pending = bytearray()  # a partial header or special record
        self._skip = 0  # file data (and padding) still to pass over
        self._padding = 0  # how much of _skip is the padding after the last file's data
        self._special: tuple[int, int] | None = None  # (typeflag, size) being collected
        self._overrides: dict[str, str] = {}
        self._zero_blocks = 0
        self._offset = 0  # of the next byte fed, for messages
        self._offset_at = 0  # of the header being parsed
        self._skip_after_special = 0

    def feed(self, chunk: bytes | memoryview) -> None:
        # bytes slices are one copy; slicing a memoryview then copying is two objects per header
        view = chunk if isinstance(chunk, bytes) else bytes(chunk)
        pos, n = 0, len(view)
        while pos < n:
            if (
                self._c is not None
                and self._skip < _C_MAX_SKIP
                and not (self._pending or self._special or self._overrides or self._zero_blocks)
            ):
                pos = self._walk_common(view, pos)
                if pos >= n:
                    break
            if self._skip:
                step = min(self._skip, n - pos)
                self._skip -= step
                pos += step
                continue
            if self.stats.clean_end:
                return  # bytes after the end-of-archive marker are padding
            want = self._special[1] if self._special else BLOCK
            if not self._pending and n - pos >= want:  # the common case: no copy to a buffer
                self._offset_at = self._offset + pos + want
                data = view[pos : pos + want]
                pos += want
                self._special_done(data) if self._special else self._header(data)
                continue
            take = min(want - len(self._pending), n - pos)
            self._pending += view[pos : pos + take]
            pos += take
            if len(self._pending) == want:
                data = bytes(self._pending)
                self._pending.clear()
                self._offset_at = self._offset + pos
                self._special_done(data) if self._special else self._header(data)
        self._offset += n

    def _walk_common(self, view: bytes, pos: int) -> int:
        """Let the C loop take the common headers from ``pos``; it stops where one needs the
        code below (a partial or zero block, an extended header, anything unusual)."""
        assert self._c is not None
        emit = self._on_entries
        pos, self._skip, self._padding, entries, counts, newest = self._c.walk(
            view, pos, self._skip, self._padding, TarEntry if emit else None
        )
        self.stats.merge(counts, newest)
        if emit is not None and entries:
            emit(entries)  # TarEntry instances, made in C
        return int(pos)

    def finish(self) -> TarStats:
        if self.stats.clean_end:
            return self.stats
        if self._skip > self._padding or self._pending or self._special:
            raise TarError("truncated", "tar stream ends inside an entry")
        # Only padding (or nothing) is missing after the last entry: umoci 0.4 writes such
        # tars and Go's reader accepts them, so the caller reports a missing end marker.
        if self.stats.entries == 0 and self._zero_blocks == 0:
            raise TarError("not_a_tar", "empty stream, not a tar archive")
        return self.stats  # ended at a header boundary without the end marker

    def _header(self, block: bytes) -> None:
        if not any(block):
            self._zero_blocks += 1
            if self._zero_blocks == 2:
                self.stats.clean_end = True
            return
        if self._zero_blocks:
            raise TarError("not_a_tar", "tar header after an end-of-archive block")
        if not _checksum_ok(block):
            raise TarError("not_a_tar", f"invalid tar header checksum near byte {self._offset_at}")
        try:
            size = _number(block[124:136])
        except ValueError:
            raise TarError("not_a_tar", "invalid size field in tar header") from None
        typeflag = block[156]
        if typeflag in b"xgLK":
            if not 0 <= size <= MAX_SPECIAL:
                raise TarError("not_a_tar", f"tar extended header too large ({size} bytes)")
            self._special = (typeflag, size)
            self._skip_after_special = -size % BLOCK
            if size == 0:
                self._special_done(b"")
            return
        self._entry(block, typeflag, size)

    def _special_done(self, data: bytes) -> None:
        assert self._special is not None
        typeflag = self._special[0]
        self._special = None
        self._skip, self._padding = self._skip_after_special, 0
        if typeflag == ord("x"):
            try:
                self._overrides.update(_pax_records(data))
            except ValueError:
                raise TarError("not_a_tar", "malformed PAX extended header") from None
        elif typeflag == ord("L"):
            self._overrides["path"] = _text(data)
        elif typeflag == ord("K"):
            self._overrides["linkpath"] = _text(data)
        # 'g' (global PAX headers) carry nothing we count

    def _entry(self, block: bytes, typeflag: int, size: int) -> None:
        over = self._overrides
        if over:
            self._overrides = {}
        (raw_name, mode_f, uid_f, gid_f, mtime_f, link_f, magic, prefix) = _FIELDS.unpack_from(
            block
        )
        name = _text(raw_name)
        if magic == b"ustar\x00" and prefix[0]:
            name = _text(prefix) + "/" + name
        try:
            try:  # plain octal inline, the common case; GNU base-256 through _number
                mode = int(mode_f.partition(b"\0")[0] or b"0", 8)
                uid = int(uid_f.partition(b"\0")[0] or b"0", 8)
                gid = int(gid_f.partition(b"\0")[0] or b"0", 8)
                mtime: float = int(mtime_f.partition(b"\0")[0] or b"0", 8)
            except ValueError:
                mode, uid, gid = _number(mode_f), _number(uid_f), _number(gid_f)
                mtime = _number(mtime_f)
            if over:  # PAX values win over the header's
                name = over.get("path", name)
                size = int(over.get("size", size))
                mtime = float(over.get("mtime", mtime))
                uid, gid = int(over.get("uid", uid)), int(over.get("gid", gid))
        except ValueError:
            raise TarError("not_a_tar", f"invalid number in tar header of {name!r}") from None
        if size < 0:
            raise TarError("not_a_tar", f"negative size in tar header of {name!r}")
        if size >= _INT64 or not (-_INT64 <= uid < _INT64 and -_INT64 <= gid < _INT64):
            # base-256 fields and PAX records can say more than 64 bits; Go's reader (Docker,
            # containerd) refuses such headers, and no stream could hold such a file
            raise TarError("not_a_tar", f"number out of range in tar header of {name!r}")
        kind = _TYPES.get(typeflag, "file" if typeflag in _REGULAR else "other")
        if typeflag == _DIR or (kind == "file" and name.endswith("/")):
            kind = "dir"
        entry = TarEntry(
            _normalise(name),
            kind,
            size if kind == "file" else 0,
            mode,
            uid,
            gid,
            mtime,
            (over.get("linkpath") if over else None) or (_text(link_f) if link_f[0] else ""),
            name,
        )
        self.stats.add(entry)
        if self._on_entries is not None:
            self._on_entries([entry])
        if typeflag not in _HEADER_ONLY:
            self._padding = -size % BLOCK
            self._skip = size + self._padding
