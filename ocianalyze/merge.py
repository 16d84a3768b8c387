"""Apply a image's layers in order, as overlay filesystems do, to find the merged filesystem and
the bytes that later layers hide (wasted space).

Whiteouts follow the OCI layer spec: ``.wh..wh..opq`` hides every lower child of its directory
and applies before the layer's own entries; ``.wh.<name>`` hides ``<name>`` and its subtree.
Each hidden copy of a file counts once: a path stored in N layers wastes N-1 copies. A whiteout
with nothing beneath it is noted, not fatal. The state is one dict entry per path, keyed by the
name string the layer table already holds (no copy), plus one int.
"""

from __future__ import annotations

import heapq
import posixpath
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from .entries import EntryTable
from .tarwalk import DISK_BLOCK

OPAQUE = ".wh..wh..opq"
_SHIFT = 32


@dataclass(frozen=True, slots=True)
class Wasted:
    """Bytes of ``path`` that lower layers ship but the merged filesystem never shows."""

    path: str
    bytes: int
    copies: int  # hidden copies (N-1 for a path stored N times)
    layer: int  # the lowest layer holding a hidden copy (0-based)
    by_layer: int  # the layer that hid the last copy
    how: str  # "overwritten" or "deleted"


@dataclass(frozen=True, slots=True)
class MergeResult:
    files: int
    file_bytes: int
    disk_bytes: int
    shipped_file_bytes: int  # file bytes summed over every layer
    wasted_bytes: int
    wasted_by_layer: tuple[int, ...]  # bytes of each layer hidden by a later one
    wasted: tuple[Wasted, ...]  # the largest, at most ``top``
    largest: tuple[tuple[str, int, int], ...]  # (path, size, layer) of the largest files
    dangling_whiteouts: tuple[tuple[int, str], ...]  # (layer, path) hiding nothing

    @property
    def efficiency(self) -> float:
        """Share of the shipped file bytes that the merged filesystem keeps (1.0: no waste)."""
        return (
            1.0 if not self.shipped_file_bytes else 1 - self.wasted_bytes / self.shipped_file_bytes
        )


def _ancestors(path: str) -> Iterator[str]:
    while "/" in path:
        path = path.rsplit("/", 1)[0]
        yield path


def _under(path: str, dirs: set[str]) -> bool:
    """Is ``path`` strictly inside one of ``dirs`` ("" is the root)?"""
    return bool(dirs) and ("" in dirs or any(a in dirs for a in _ancestors(path)))


class _Merge:
    def __init__(self, tables: Sequence[EntryTable]) -> None:
        self.tables = tables
        self.state: dict[str, int] = {}  # path -> layer << 32 | entry index
        self.waste: dict[str, list[int]] = {}  # path -> [bytes, copies, lowest, by, how]
        self.by_layer = [0] * len(tables)
        self.dangling: list[tuple[int, str]] = []

    def hide(self, path: str, ref: int, by: int, how: int) -> None:
        layer, idx = ref >> _SHIFT, ref & ((1 << _SHIFT) - 1)
        table = self.tables[layer]
        if table.kinds[idx] != 0:  # only regular files carry bytes (hardlinks are counted once)
            return
        size = table.sizes[idx]
        w = self.waste.setdefault(path, [0, 0, layer, by, how])
        w[0] += size
        w[1] += 1
        w[2], w[3], w[4] = min(w[2], layer), by, how
        self.by_layer[layer] += size

    def whiteouts(self, layer: int) -> None:
        table = self.tables[layer]
        targets: set[str] = set()
        opaque: set[str] = set()
        for name in table.names:
            if ".wh." not in name:  # cheap filter: basename() for every entry costs more
                continue
            base = posixpath.basename(name)
            if base == OPAQUE:
                opaque.add(posixpath.dirname(name))
            elif base.startswith(".wh."):
                targets.add(posixpath.join(posixpath.dirname(name), base[4:]))
        if not targets and not opaque:
            return
        hit: set[str] = set()
        for path in list(self.state):
            hider = (
                path
                if path in targets
                else next((a for a in _ancestors(path) if a in targets), None)
            )
            if hider is None and not _under(path, opaque):
                continue
            if hider is not None:
                hit.add(hider)
            self.hide(path, self.state.pop(path), layer, 1)
        self.dangling += [(layer, t) for t in sorted(targets - hit)]

    def add(self, layer: int) -> None:
        table = self.tables[layer]
        for idx, name in enumerate(table.names):
            if ".wh." in name and posixpath.basename(name).startswith(".wh."):
                continue
            old = self.state.get(name)
            if old is not None and old >> _SHIFT != layer:
                self.hide(name, old, layer, 0)
            self.state[name] = layer << _SHIFT | idx


def _run(tables: Sequence[EntryTable]) -> _Merge:
    m = _Merge(tables)
    for layer in range(len(tables)):
        m.whiteouts(layer)  # opaque and plain whiteouts apply before the layer's own entries
        m.add(layer)
    return m


def merge(tables: Sequence[EntryTable], top: int = 10) -> MergeResult:
    return _result(_run(tables), top)


def _files(m: _Merge) -> Iterator[tuple[int, str, int]]:
    """(size, path, layer) of every regular file in the merged filesystem."""
    for path, ref in m.state.items():
        layer, idx = ref >> _SHIFT, ref & ((1 << _SHIFT) - 1)
        if m.tables[layer].kinds[idx] == 0:
            yield m.tables[layer].sizes[idx], path, layer


def _result(m: _Merge, top: int) -> MergeResult:
    files = file_bytes = disk = 0
    for size, _, _ in _files(m):
        files += 1
        file_bytes += size
        disk += -(-size // DISK_BLOCK) * DISK_BLOCK
    dirs = sum(
        1
        for ref in m.state.values()
        if m.tables[ref >> _SHIFT].kinds[ref & ((1 << _SHIFT) - 1)] == 1
    )
    shipped = sum(s for t in m.tables for s, k in zip(t.sizes, t.kinds, strict=True) if k == 0)
    wasted = (
        Wasted(p, w[0], w[1], w[2], w[3], ("overwritten", "deleted")[w[4]])
        for p, w in m.waste.items()
    )
    largest = heapq.nlargest(top, _files(m))  # a bounded heap: no list of every file
    return MergeResult(
        files,
        file_bytes,
        disk + dirs * DISK_BLOCK,
        shipped,
        sum(m.by_layer),
        tuple(m.by_layer),
        tuple(heapq.nlargest(top, wasted, key=lambda w: (w.bytes, w.path))),
        tuple((p, s, layer) for s, p, layer in largest),
        tuple(m.dangling),
    )


def merged_entries(tables: Sequence[EntryTable]) -> list[tuple[int, int]]:
    """(layer, entry index) of every path in the merged filesystem, sorted by path."""
    m = _run(tables)
    return [(ref >> _SHIFT, ref & ((1 << _SHIFT) - 1)) for _, ref in sorted(m.state.items())]
