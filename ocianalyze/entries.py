"""A compact listing of one layer's tar entries, for file listings and the filesystem merge.

Columns instead of one object per entry, about 16 bytes plus the name's UTF-8 bytes per entry:
a layer of a million files costs tens of MB, not the gigabyte an object tree would.

- names: one byte buffer holding every name back to back, with "/" stored as NUL, plus the end
  offset of each name. A name's bytes are then also its merge key: sorting keys puts a
  directory's whole subtree right after it ("a", "a/b", "a-c"), which the merge relies on. Go's
  archive/tar refuses NUL in names (PAX path records included), so NUL is free to use.
  Names are encoded with ``surrogatepass``, which gives back any Python string exactly.
- sizes and mtimes: 32-bit unsigned columns; a value outside (negative, past 2**32, a float)
  is kept exactly in a small dict beside the column.
- kind, mode, uid and gid: one 32-bit index into a palette of the distinct combinations (a
  layer has a few hundred at most).
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Iterable
from itertools import accumulate, islice
from operator import attrgetter

from .tarwalk import TarEntry

KINDS = ("file", "dir", "symlink", "hardlink", "char", "block", "fifo", "other")
FILE, DIR, SYMLINK, HARDLINK = 0, 1, 2, 3
_CODE = {k: i for i, k in enumerate(KINDS)}
_NAME, _TYPE, _SIZE, _MODE = (attrgetter(f) for f in ("name", "type", "size", "mode"))
_UID, _GID, _MTIME = (attrgetter(f) for f in ("uid", "gid", "mtime"))
_U32 = 1 << 32
_ENCODING = ("utf-8", "surrogatepass")


def name_key(name: str) -> bytes:
    """The merge key of a normalised path: UTF-8 (surrogatepass) with "/" as NUL."""
    return name.encode(*_ENCODING).replace(b"/", b"\0")


def key_name(key: bytes) -> str:
    """The path a merge key stands for (the inverse of name_key)."""
    return key.replace(b"\0", b"/").decode(*_ENCODING)


class _Column:
    """Integers in a 32-bit unsigned array; any other value (int or float) exactly, aside."""

    __slots__ = ("odd", "values")

    def __init__(self) -> None:
        self.values = array("I")
        self.odd: dict[int, int | float] = {}

    def extend(self, items: Iterable[int | float]) -> None:
        start = len(self.values)
        try:
            self.values.extend(items)  # type: ignore[arg-type]  # floats are refused here
        except (TypeError, OverflowError):
            del self.values[start:]
            for i, v in enumerate(items, start):
                if isinstance(v, int) and 0 <= v < _U32:
                    self.values.append(v)
                else:
                    self.values.append(0)
                    self.odd[i] = v

    def __getitem__(self, i: int) -> int | float:
        return self.odd.get(i, self.values[i]) if self.odd else self.values[i]


class EntryTable:
    """Every entry of one layer, in tar order; entry ``i`` is the i-th header of the layer."""

    __slots__ = ("_blob", "_ends", "_meta", "_meta_of", "_mtimes", "_palette", "_sizes", "links")

    def __init__(self) -> None:
        self._blob = bytearray()
        self._ends = array("I")  # end offset of each name in _blob (array("Q") past 4 GiB)
        self._sizes = _Column()
        self._mtimes = _Column()
        self._meta = array("I")
        self._palette: list[tuple[int, int, int, int]] = []  # (kind code, mode, uid, gid)
        self._meta_of: dict[tuple[int, int, int, int], int] = {}
        self.links: dict[int, str] = {}  # only links carry a target

    def add(self, e: TarEntry) -> None:
        self.add_all([e])

    def add_all(self, entries: list[TarEntry]) -> None:
        """Append a batch, column by column: map and extend run in C, so a batch costs a few
        calls instead of a Python loop over its entries."""
        first = len(self._ends)
        kinds = list(map(_TYPE, entries))
        if "symlink" in kinds or "hardlink" in kinds:
            for i, e in enumerate(entries, first):
                if e.linkname and e.type in ("symlink", "hardlink"):
                    self.links[i] = e.linkname
        names = list(map(_NAME, entries))
        joined = "".join(names)
        lengths = map(len, names) if joined.isascii() else map(len, map(name_key, names))
        start = len(self._blob)
        self._blob += name_key(joined)
        if len(self._blob) >= _U32 and self._ends.typecode == "I":
            self._ends = array("Q", self._ends)
        self._ends.extend(islice(accumulate(lengths, initial=start), 1, None))
        self._sizes.extend(list(map(_SIZE, entries)))
        self._mtimes.extend(list(map(_MTIME, entries)))
        codes = [_CODE.get(k, _CODE["other"]) for k in kinds]
        metas = list(
            zip(codes, map(_MODE, entries), map(_UID, entries), map(_GID, entries), strict=True)
        )
        for m in set(metas).difference(self._meta_of):
            self._meta_of[m] = len(self._palette)
            self._palette.append(m)
        self._meta.extend(map(self._meta_of.__getitem__, metas))

    def __len__(self) -> int:
        return len(self._ends)

    def key(self, i: int) -> bytes:
        """Entry ``i``'s merge key (see name_key)."""
        return bytes(self._blob[self._ends[i - 1] if i else 0 : self._ends[i]])

    def name(self, i: int) -> str:
        return key_name(self.key(i))

    def code(self, i: int) -> int:
        """Entry ``i``'s kind as an index into KINDS."""
        return self._palette[self._meta[i]][0]

    def kind(self, i: int) -> str:
        return KINDS[self.code(i)]

    def size(self, i: int) -> int:
        return int(self._sizes[i])

    def link(self, i: int) -> str:
        return self.links.get(i, "")

    def find(self, part: bytes) -> list[int]:
        """Indices of the entries whose key contains ``part`` (no "/" or NUL in it), in order:
        a scan of the name buffer in C, so a layer without any costs no loop per entry."""
        found: list[int] = []
        at = self._blob.find(part)
        while at >= 0:
            i = bisect_right(self._ends, at)
            found.append(i)
            at = self._blob.find(part, self._ends[i])
        return found

    def names(self) -> list[str]:
        """Every name, in tar order (a list: for small tables and tests)."""
        return [self.name(i) for i in range(len(self))]

    def entry(self, i: int) -> TarEntry:
        code, mode, uid, gid = self._palette[self._meta[i]]
        name = self.name(i)
        return TarEntry(
            name,
            KINDS[code],
            self.size(i),
            mode,
            uid,
            gid,
            self._mtimes[i],
            self.links.get(i, ""),
            name,
        )

    def file_bytes(self) -> int:
        """Bytes of the regular files' contents (hardlinks carry none)."""
        files = {m for m, (code, *_) in enumerate(self._palette) if code == FILE}
        if len(files) == len(self._palette):
            return sum(self._sizes.values) + sum(map(int, self._sizes.odd.values()))
        return sum(self.size(i) for i in range(len(self)) if self._meta[i] in files)
