"""A compact listing of one layer's tar entries, for file listings and the filesystem merge.

Columns instead of one object per entry, about 6 bytes an entry plus the part of its name not
shared with the name before:
a layer of a million files costs tens of MB, not the gigabyte an object tree would.

- names, as merge keys: UTF-8 with "/" stored as NUL, so that sorting keys puts a directory's
  whole subtree right after it ("a", "a/b", "a-c"), which the merge relies on (Go's
  archive/tar refuses NUL in names, PAX path records included, so NUL is free to use). Each
  key is stored as the number of leading bytes it shares with the key before (a byte) and the
  rest, in one buffer, with the rest's length (a byte, wider only when one needs it) and the
  start of every 16th key, which is stored whole: names in tar order share long prefixes, so
  a name costs a few bytes, not its length.
  Names are encoded with ``surrogatepass``, which gives back any Python string exactly.
- sizes and mtimes: differences from the column's first value, in 1, 2 or 4 bytes as the
  values need; a value further out (or a float) is kept exactly in a small dict beside.
- kind, mode, uid and gid: one index into a palette of the distinct combinations (a layer
  has a few hundred at most): a byte, wider past 256.
- content digests, only in a table made with ``hashes=True`` (for ``diff``): the sha256 of
  each regular file's bytes, 32 bytes an entry (zeros: none, as for directories and sparse
  files). A table without them costs nothing more.
"""

from __future__ import annotations

from array import array
from itertools import accumulate
from operator import attrgetter

from .tarwalk import TarEntry

KINDS = ("file", "dir", "symlink", "hardlink", "char", "block", "fifo", "other")
FILE, DIR, SYMLINK, HARDLINK = 0, 1, 2, 3
_CODE = {k: i for i, k in enumerate(KINDS)}
_NAME, _TYPE, _SIZE, _MODE = (attrgetter(f) for f in ("name", "type", "size", "mode"))
_UID, _GID, _MTIME = (attrgetter(f) for f in ("uid", "gid", "mtime"))
_GROUP = 16  # names per recorded start offset
_CACHED_GROUPS = 64  # groups of rebuilt keys kept (about 1,000 keys)
_WIDE_U = {"B": "H", "H": "I", "I": "Q"}  # unsigned array typecodes, 1, 2, 4 and 8 bytes
_MAX_SHARED = 255


def _common(a: bytes, b: bytes) -> int:
    """How many leading bytes ``a`` and ``b`` share (at most 255): the top differing bit of
    their XOR, found in C."""
    n = min(len(a), len(b), _MAX_SHARED)
    x = int.from_bytes(a[:n], "big") ^ int.from_bytes(b[:n], "big")
    return n - (x.bit_length() + 7) // 8


_ENCODING = ("utf-8", "surrogatepass")


def name_key(name: str) -> bytes:
    """The merge key of a normalised path: UTF-8 (surrogatepass) with "/" as NUL."""
    return name.encode(*_ENCODING).replace(b"/", b"\0")


def key_name(key: bytes) -> str:
    """The path a merge key stands for (the inverse of name_key)."""
    return key.replace(b"\0", b"/").decode(*_ENCODING)


_WIDER = {"b": "h", "h": "i"}  # signed array typecodes, 1, 2 and 4 bytes
_I32 = 1 << 31


class _Column:
    """Integers, each stored as its difference from the column's first value in the narrowest
    signed array that holds every difference so far (1, 2 or 4 bytes: a layer whose files
    share one mtime costs a byte an entry); any value further out (or a float) is kept
    exactly, aside."""

    __slots__ = ("base", "odd", "values")

    def __init__(self) -> None:
        self.values = array("b")
        self.base: int | None = None
        self.odd: dict[int, int | float] = {}

    def extend(self, items: list[int | float]) -> None:
        if self.base is None and items:
            first = items[0]
            self.base = first if isinstance(first, int) and abs(first) < 1 << 62 else 0
        base = self.base or 0
        start = len(self.values)
        try:
            deltas = [v - base for v in items]
            self.values.extend(deltas)  # type: ignore[arg-type]  # floats are refused here
            return
        except (TypeError, OverflowError):
            del self.values[start:]
        for i, v in enumerate(items, start):
            d = v - base if isinstance(v, int) else None
            while d is not None and self.values.typecode in _WIDER and not self._fits(d):
                self.values = array(_WIDER[self.values.typecode], self.values)
            if d is not None and self._fits(d):
                self.values.append(d)
            else:
                self.values.append(0)
                self.odd[i] = v

    def _fits(self, d: int) -> bool:
        bits = self.values.itemsize * 8 - 1
        return -(1 << bits) <= d < 1 << bits

    def __getitem__(self, i: int) -> int | float:
        if self.odd and i in self.odd:
            return self.odd[i]
        return self.values[i] + (self.base or 0)

    def total(self) -> int | float:
        return (
            sum(self.values)
            + (self.base or 0) * (len(self.values) - len(self.odd))
            + sum(self.odd.values())
        )


class EntryTable:
    """Every entry of one layer, in tar order; entry ``i`` is the i-th header of the layer."""

    __slots__ = (
        "_blob",
        "_cache",
        "_hashes",
        "_last",
        "_lengths",
        "_marked",
        "_meta",
        "_meta_of",
        "_mtimes",
        "_palette",
        "_shared",
        "_sizes",
        "_starts",
        "links",
    )

    def __init__(self, hashes: bool = False) -> None:
        self._blob = bytearray()  # each key's bytes past what it shares with the key before
        self._shared = array("B")  # how many leading bytes it shares (0 every 16th key)
        self._lengths = array("B")  # how many bytes it has in _blob (wider when one needs it)
        self._starts = array("Q")  # where every 16th key starts in _blob
        self._last = b""  # the last key added
        self._marked: list[int] = []  # entries whose key holds ".wh."
        self._cache: dict[int, list[bytes]] = {}  # the last groups of keys rebuilt
        self._sizes = _Column()
        self._mtimes = _Column()
        self._meta = array("B")  # (wider past 256 combinations)
        self._palette: list[tuple[int, int, int, int]] = []  # (kind code, mode, uid, gid)
        self._meta_of: dict[tuple[int, int, int, int], int] = {}
        self.links: dict[int, str] = {}  # only links carry a target
        self._hashes = bytearray() if hashes else None  # 32 bytes an entry: see set_hash

    def set_hash(self, i: int, digest: bytes) -> None:
        """Record the sha256 (32 bytes) of entry ``i``'s content, an entry already added."""
        if self._hashes is not None:
            self._hashes[32 * i : 32 * i + 32] = digest

    def content_hash(self, i: int) -> bytes | None:
        """The sha256 of entry ``i``'s content, when it was hashed (a regular file that is
        not sparse, in a table made with ``hashes=True``); None otherwise."""
        if self._hashes is None:
            return None
        digest = bytes(self._hashes[32 * i : 32 * i + 32])
        return digest if any(digest) else None

    def add(self, e: TarEntry) -> None:
        self.add_all([e])

    def add_all(self, entries: list[TarEntry]) -> None:
        """Append a batch, column by column: map and extend run in C, so a batch costs a few
        calls instead of a Python loop over its entries."""
        self._cache = {}  # the last group may grow
        first = len(self._lengths)
        kinds = list(map(_TYPE, entries))
        if "symlink" in kinds or "hardlink" in kinds:
            for i, e in enumerate(entries, first):
                if e.linkname and e.type in ("symlink", "hardlink"):
                    self.links[i] = e.linkname
        keys = list(map(name_key, map(_NAME, entries)))
        shared = list(map(_common, [self._last, *keys[:-1]], keys))
        restarts = range(-first % _GROUP, len(keys), _GROUP)
        shared[restarts.start :: _GROUP] = [0] * len(restarts)
        rests = [k[n:] for k, n in zip(keys, shared, strict=True)]
        lengths = list(map(len, rests))
        starts = list(accumulate(lengths, initial=len(self._blob)))
        self._blob += b"".join(rests)
        self._starts.extend(starts[restarts.start : len(keys) : _GROUP])
        self._shared.extend(shared)
        if keys:
            self._last = keys[-1]
        if b".wh." in b"".join(keys):
            self._marked += [i for i, k in enumerate(keys, first) if b".wh." in k]
        longest = max(lengths, default=0)
        while longest >= 1 << (8 * self._lengths.itemsize) and self._lengths.typecode in _WIDE_U:
            self._lengths = array(_WIDE_U[self._lengths.typecode], self._lengths)
        self._lengths.extend(lengths)
        self._sizes.extend(list(map(_SIZE, entries)))
        self._mtimes.extend(list(map(_MTIME, entries)))
        codes = [_CODE.get(k, _CODE["other"]) for k in kinds]
        metas = list(
            zip(codes, map(_MODE, entries), map(_UID, entries), map(_GID, entries), strict=True)
        )
        for m in set(metas).difference(self._meta_of):
            self._meta_of[m] = len(self._palette)
            self._palette.append(m)
        while len(self._palette) > 1 << (8 * self._meta.itemsize):
            self._meta = array(_WIDE_U[self._meta.typecode], self._meta)
        self._meta.extend(map(self._meta_of.__getitem__, metas))
        if self._hashes is not None:
            self._hashes += bytes(32 * len(entries))

    def __len__(self) -> int:
        return len(self._lengths)

    def key(self, i: int) -> bytes:
        """Entry ``i``'s merge key (see name_key). Keys are rebuilt from the one stored whole
        at the start of their group of 16; the last few groups rebuilt are kept, so reading in
        order, or nearly (the merge's sorted order against tar order), costs one rebuild per
        group."""
        group = i // _GROUP
        keys = self._cache.get(group)
        if keys is None:
            if len(self._cache) >= _CACHED_GROUPS:
                self._cache.clear()
            keys = self._cache[group] = self._group_keys(group)
        return keys[i % _GROUP]

    def _group_keys(self, group: int) -> list[bytes]:
        first = group * _GROUP
        last = min(first + _GROUP, len(self._lengths))
        end = self._starts[group] + self._lengths[first]
        key = bytes(self._blob[end - self._lengths[first] : end])
        keys = [key]
        blob, shared, lengths = self._blob, self._shared, self._lengths
        for j in range(first + 1, last):
            start, end = end, end + lengths[j]
            key = key[: shared[j]] + blob[start:end]
            keys.append(key)
        return keys

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

    def whiteouts(self) -> list[int]:
        """Indices of the entries whose key holds ".wh." (every whiteout and opaque marker,
        and a few other names), in order; noted as the entries were added."""
        return self._marked

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
            return int(self._sizes.total())
        return sum(self.size(i) for i in range(len(self)) if self._meta[i] in files)
