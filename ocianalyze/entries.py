"""A compact listing of one layer's tar entries, for file listings and the filesystem merge.

Parallel arrays instead of one object per entry: about 80 bytes plus the name per entry, so a
layer of a million files costs tens of MB, not the gigabyte an object tree would.
"""

from __future__ import annotations

from array import array
from itertools import repeat
from operator import attrgetter

from .tarwalk import TarEntry

KINDS = ("file", "dir", "symlink", "hardlink", "char", "block", "fifo", "other")
_CODE = {k: i for i, k in enumerate(KINDS)}
_NAME, _TYPE, _SIZE, _MODE = (attrgetter(f) for f in ("name", "type", "size", "mode"))
_UID, _GID, _MTIME = (attrgetter(f) for f in ("uid", "gid", "mtime"))


def _code(kind: str) -> int:
    return _CODE.get(kind, _CODE["other"])


class EntryTable:
    __slots__ = ("gids", "kinds", "links", "modes", "mtimes", "names", "sizes", "uids")

    def __init__(self) -> None:
        self.names: list[str] = []
        self.sizes = array("q")
        self.kinds = bytearray()
        self.modes = array("q")
        self.uids = array("q")
        self.gids = array("q")
        self.mtimes = array("d")
        self.links: dict[int, str] = {}  # only links carry a target

    def add(self, e: TarEntry) -> None:
        if e.linkname and e.type in ("symlink", "hardlink"):
            self.links[len(self.names)] = e.linkname
        self.names.append(e.name)
        self.sizes.append(e.size)
        self.kinds.append(_code(e.type))
        self.modes.append(e.mode)
        self.uids.append(e.uid)
        self.gids.append(e.gid)
        self.mtimes.append(e.mtime)

    def add_all(self, entries: list[TarEntry]) -> None:
        """add() for a batch, column by column: map and extend run in C, so a batch costs
        a few calls instead of a Python loop over its entries."""
        first = len(self.names)
        kinds = list(map(_TYPE, entries))
        if "symlink" in kinds or "hardlink" in kinds:
            for i, e in enumerate(entries, first):
                if e.linkname and e.type in ("symlink", "hardlink"):
                    self.links[i] = e.linkname
        self.names.extend(map(_NAME, entries))
        self.sizes.extend(map(_SIZE, entries))
        self.kinds.extend(map(_CODE.get, kinds, repeat(_CODE["other"])))
        self.modes.extend(map(_MODE, entries))
        self.uids.extend(map(_UID, entries))
        self.gids.extend(map(_GID, entries))
        self.mtimes.extend(map(_MTIME, entries))

    def __len__(self) -> int:
        return len(self.names)

    def kind(self, i: int) -> str:
        return KINDS[self.kinds[i]]

    def entry(self, i: int) -> TarEntry:
        return TarEntry(
            self.names[i],
            self.kind(i),
            self.sizes[i],
            self.modes[i],
            self.uids[i],
            self.gids[i],
            self.mtimes[i],
            self.links.get(i, ""),
            self.names[i],
        )
