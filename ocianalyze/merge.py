"""Apply an image's layers in order, as containerd's applier does on overlay filesystems, to find
the merged filesystem and the bytes that later layers hide (wasted space).

Rules (OCI image spec, "Representing Changes"; containerd ``archive/tar.go``):
- ``.wh..wh..opq`` hides every lower child of its directory; ``.wh.<name>`` hides ``<name>``
  and its subtree. Both apply to lower layers only, before the layer's own entries.
- An entry replaces the lower entry at its path; a non-directory also removes the lower subtree
  below it (only a directory over a directory merges).
- A hardlink shares its target's inode: hiding or replacing one name keeps the data under the
  others, and the data is wasted only when no name is left. A hardlink whose target is itself,
  is not an earlier entry of the merged image, or is a directory is refused by the applier: it
  is a ``bad_hardlink`` problem of the layer and is left out of the merge.
- A path stored in N layers wastes N-1 copies; a hardlink carries no bytes of its own. Copies
  of one path within one layer replace each other without counting as waste.

Cost: the merge never holds a dict of every path. Each layer's entries are sorted by key (the
name with "/" as NUL, so a subtree directly follows its directory) in runs, and one k-way merge
sweeps every path once, in key order, with a stack of the subtrees a whiteout, an opaque
directory or a replacing non-directory hides: O(n log n) key comparisons for n entries, memory
in the number of layers and of nested hiding subtrees, not in the number of entries. Images
with hardlinks take a second sweep: the first resolves each link against the paths it names.
"""

from __future__ import annotations

import heapq
import posixpath
from array import array
from collections.abc import Iterator, Sequence
from itertools import chain, count, groupby, islice, pairwise, repeat
from operator import itemgetter, le

from .entries import DIR, FILE, HARDLINK, EntryTable, key_name, name_key
from .errors import Kind, Problem
from .record import field, record
from .tarwalk import DISK_BLOCK, TarEntry

OPAQUE = ".wh..wh..opq"
_RUN = 1 << 14  # entries sorted at once (their keys are in memory together)
_OVERWRITTEN, _DELETED = 0, 1
_HOW = ("overwritten", "deleted")
_ENTRY, _WHITEOUT, _OPAQUE = 2, 1, 0  # item codes: hides sort before entries of their layer


@record
class Wasted:
    """Bytes of ``path`` that lower layers ship but the merged filesystem never shows."""

    path: str
    bytes: int
    copies: int  # hidden copies (N-1 for a path stored N times)
    layer: int  # the lowest layer holding a hidden copy (0-based)
    by_layer: int  # the layer that hid the last copy
    how: str  # "overwritten" or "deleted"


@record
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
    problems: tuple[Problem, ...] = ()  # bad_hardlink, one per refused link (digest: the layer's)

    @property
    def efficiency(self) -> float:
        """Share of the shipped file bytes that the merged filesystem keeps (1.0: no waste)."""
        return (
            1.0 if not self.shipped_file_bytes else 1 - self.wasted_bytes / self.shipped_file_bytes
        )


Ref = tuple[int, int]  # (layer, entry index)
Item = tuple[bytes, int, int, int]  # (key, layer, entry index or -1, item code)


@record(frozen=False)
class _Frame:
    """A subtree (keys starting with ``prefix``) that hides lower layers' entries."""

    prefix: bytes
    deleted: int  # bit m: layer m deletes this subtree (whiteout or opaque), inherited
    overwritten: int  # bit m: a non-directory of layer m replaces it, inherited
    own: int  # bits of whiteouts and opaque directories named by this frame itself
    whiteouts: int  # bits of this frame's own ``.wh.`` whiteouts (dangling when not hit)
    hit: int = 0


@record(frozen=False)
class _Group:
    """What one path's sweep step found."""

    key: bytes
    entries: list[Ref]  # the path's entries, bad hardlinks left out, in layer order
    deleted: int  # bit m: layer m deletes this path (its own whiteout, or an ancestor's)
    overwritten: int  # bit m: a non-directory of layer m replaces an ancestor
    visible: Ref | None = None
    hidden: list[tuple[Ref, int, int]] = field(default_factory=list)  # (ref, by layer, how)


@record(frozen=False)
class _Links:
    """Hardlink resolution: link ref -> inode (the ref of the regular file holding the data)."""

    inode: dict[Ref, Ref] = field(default_factory=dict)
    bad: set[Ref] = field(default_factory=set)
    names: dict[Ref, int] = field(default_factory=dict)  # inode -> names left at the end
    primary: dict[Ref, bytes] = field(default_factory=dict)  # inode -> key listed as the file
    problems: list[tuple[int, str]] = field(default_factory=list)  # (layer, message)


def _bits(mask: int) -> Iterator[int]:
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def _hides(table: EntryTable, layer: int) -> list[Item]:
    """The layer's whiteouts and opaque markers, as items keyed by the path they hide."""
    items: list[Item] = []
    for i in table.whiteouts():
        parent, _, base = table.key(i).rpartition(b"\0")
        if base == OPAQUE.encode():
            items.append((parent, layer, -1, _OPAQUE))
        elif base.startswith(b".wh."):
            items.append(((parent + b"\0" if parent else b"") + base[4:], layer, -1, _WHITEOUT))
    return items


def _is_whiteout(key: bytes) -> bool:
    return b".wh." in key and key.rpartition(b"\0")[2].startswith(b".wh.")


def _runs(table: EntryTable, layer: int) -> Iterator[Item]:
    """The layer's entries (whiteouts left out) in key order: runs of up to _RUN entries,
    merged lazily. A run already in key order (Go's filepath.Walk, which docker and buildkit
    use, writes that order) is a range; another becomes a sorted array of indices (4 bytes an
    entry). A run's keys are in memory only while it is looked at."""
    runs: list[Sequence[int]] = []
    wh = bool(table.whiteouts())
    for start in range(0, len(table), _RUN):
        end = min(start + _RUN, len(table))
        keys = list(map(table.key, range(start, end)))
        if not wh and all(map(le, keys, islice(keys, 1, None))):
            runs.append(range(start, end))
            continue
        keyed = sorted(zip(keys, count(start)))
        runs.append(array("I", [i for k, i in keyed if not _is_whiteout(k)]))
    items = [zip(map(table.key, run), repeat(layer), run, repeat(_ENTRY)) for run in runs]
    if len(items) == 1:
        return items[0]
    if all(isinstance(r, range) for r in runs) and all(
        table.key(a[-1]) <= table.key(b[0]) for a, b in pairwise(runs)
    ):
        return chain.from_iterable(items)  # the whole layer is in key order
    return heapq.merge(*items)


class _Sweep:
    """One pass over every path of the image in key order."""

    def __init__(self, tables: Sequence[EntryTable], links: _Links) -> None:
        self.tables = tables
        self.links = links
        self.stack = [_Frame(b"", 0, 0, 0, 0)]
        # The frame of the previous path, pushed only if the next path is inside it: a
        # subtree directly follows its root, so most files never need a frame of their own.
        self.pending: _Frame | None = None
        self.dangling: list[tuple[int, str]] = []

    def groups(self) -> Iterator[_Group]:
        streams: list[Iterator[Item]] = [_runs(t, n) for n, t in enumerate(self.tables) if len(t)]
        hides = sorted(h for n, t in enumerate(self.tables) for h in _hides(t, n))
        if hides:
            streams.append(iter(hides))
        merged = streams[0] if len(streams) == 1 else heapq.merge(*streams)
        for key, items in groupby(merged, key=itemgetter(0)):
            yield self.step(key, list(items))
        if self.pending is not None:
            self.pop_dangling(self.pending)
        while len(self.stack) > 1:
            self.pop()
        self.pop_dangling(self.stack[0])

    def pop(self) -> None:
        self.pop_dangling(self.stack.pop())

    def pop_dangling(self, frame: _Frame) -> None:
        if frame.whiteouts & ~frame.hit:
            path = key_name(frame.prefix.removesuffix(b"\0"))
            self.dangling += [(m, path) for m in _bits(frame.whiteouts & ~frame.hit)]

    def step(self, key: bytes, items: list[Item]) -> _Group:
        stack, pending = self.stack, self.pending
        if pending is not None:
            self.pending = None
            if key.startswith(pending.prefix):
                stack.append(pending)
            else:
                self.pop_dangling(pending)
        while not key.startswith(stack[-1].prefix):
            self.pop()
        top = stack[-1]
        if len(items) == 1 and not (top.deleted | top.overwritten) and not self.links.bad:
            _, layer, idx, code = items[0]
            if code == _ENTRY:  # the common case: one entry, nothing above hides it
                if layer and self.tables[layer].code(idx) != DIR:
                    self.pending = _Frame(key + b"\0", 0, 1 << layer, 0, 0)
                return _Group(key, [(layer, idx)], 0, 0, (layer, idx))
        return self.general(key, items, top)

    def general(self, key: bytes, items: list[Item], top: _Frame) -> _Group:
        whiteouts = opaque = replaced = 0
        entries: list[Ref] = []
        for _, layer, idx, code in items:
            if code == _WHITEOUT:
                whiteouts |= 1 << layer
            elif code == _OPAQUE:
                opaque |= 1 << layer
            elif (layer, idx) not in self.links.bad:
                entries.append((layer, idx))
                if self.tables[layer].code(idx) != DIR:
                    replaced |= 1 << layer
        group = _Group(key, entries, top.deleted | whiteouts, top.overwritten)
        hit = _apply(group)
        own = whiteouts | opaque
        self.credit(hit & ~whiteouts)
        replaced &= ~1  # the base layer has nothing below it to replace
        if own or replaced:
            prefix = key + b"\0" if key else b""
            self.pending = _Frame(
                prefix,
                top.deleted | own,
                top.overwritten | replaced,
                own,
                whiteouts,
                hit & whiteouts,
            )
        return group

    def credit(self, hit: int) -> None:
        """Mark the innermost frames whose own whiteouts deleted something as used."""
        if not hit:
            return
        for frame in reversed(self.stack):
            found = hit & frame.own
            frame.hit |= found
            hit &= ~found
            if not hit:
                return


def _apply(group: _Group, before: Ref | None = None) -> int:
    """Replay the path's entries and hides layer by layer (those before entry ``before`` only,
    when given): set ``visible`` and ``hidden``, return the layers whose deletions hid something.
    """
    entries, deleted, overwritten = group.entries, group.deleted, group.overwritten
    if before is not None:
        entries = [r for r in entries if r < before]
        deleted &= (2 << before[0]) - 1
        overwritten &= (2 << before[0]) - 1
    if not (deleted | overwritten) and len(entries) == 1:
        group.visible = entries[0]
        return 0
    hides = sorted(
        [(m, _DELETED) for m in _bits(deleted)] + [(m, _OVERWRITTEN) for m in _bits(overwritten)]
    )
    h = hit = 0
    current: Ref | None = None
    for ref in [*entries, None]:
        upto = ref[0] if ref is not None else 1 << 62
        while h < len(hides) and hides[h][0] <= upto:
            m, how = hides[h]
            h += 1
            if current is not None and current[0] < m:
                group.hidden.append((current, m, how))
                hit |= (1 << m) if how == _DELETED else 0
                current = None
        if ref is None:
            break
        if current is not None and current[0] != ref[0]:
            group.hidden.append((current, ref[0], _OVERWRITTEN))
        current = ref
    group.visible = current
    return hit


def _norm_link(target: str) -> bytes | None:
    """A hardlink target as a merge key, cleaned as the applier joins it to the root; None when
    it climbs out of the root (containerd refuses such a link)."""
    path = posixpath.normpath(target.lstrip("/")) if target.strip("/") else "."
    return None if path == ".." or path.startswith("../") else name_key(path)


def _resolve(tables: Sequence[EntryTable]) -> _Links:
    """Find each hardlink's inode, the links to refuse, and which name lists each shared file."""
    links = _Links()
    wanted: list[tuple[Ref, bytes | None]] = []
    for n, t in enumerate(tables):
        for i, target in sorted(t.links.items()):
            if t.code(i) == HARDLINK:
                wanted.append(((n, i), _norm_link(target)))
    if not wanted:
        return links
    keys = {k for _, k in wanted if k is not None} | {tables[n].key(i) for (n, i), _ in wanted}
    seen = {g.key: g for g in _Sweep(tables, links).groups() if g.key in keys}
    for ref, key in wanted:  # in layer and tar order: a link may name an earlier link
        _link(tables, links, ref, key, seen)
    _survivors(tables, links, seen)
    return links


def _link(
    tables: Sequence[EntryTable],
    links: _Links,
    ref: Ref,
    key: bytes | None,
    seen: dict[bytes, _Group],
) -> None:
    n, i = ref
    why = None
    if key is None or key == tables[n].key(i):
        why = "links to itself" if key is not None else "links outside the root"
    else:
        found = None
        if key in seen:
            g = seen[key]
            live = [r for r in g.entries if r not in links.bad]
            probe = _Group(key, live, g.deleted, g.overwritten)
            _apply(probe, before=ref)
            found = probe.visible
        if found is None:
            why = "links to a path that no earlier entry of the image holds"
        elif tables[found[0]].code(found[1]) == DIR:
            why = "links to a directory"
        else:
            links.inode[ref] = links.inode.get(found, found)
    if why is not None:
        links.bad.add(ref)
        name, target = tables[n].name(i), tables[n].link(i)
        links.problems.append((n, f"hardlink {name!r} -> {target!r} {why}: left out"))


def _survivors(tables: Sequence[EntryTable], links: _Links, seen: dict[bytes, _Group]) -> None:
    """Count the names left for each shared inode and choose the one listed as the file."""
    shared = set(links.inode.values())
    holders: dict[Ref, list[bytes]] = {}
    for key, g in seen.items():
        final = _Group(key, [r for r in g.entries if r not in links.bad], g.deleted, g.overwritten)
        _apply(final)
        if final.visible is None:
            continue
        inode = links.inode.get(final.visible, final.visible)
        if inode in shared:
            holders.setdefault(inode, []).append(key)
    for inode, keys in holders.items():
        links.names[inode] = len(keys)
        own = tables[inode[0]].key(inode[1])
        links.primary[inode] = own if own in keys else min(keys)


class _Totals:
    """What merge() adds up while the sweep goes by."""

    def __init__(self, tables: Sequence[EntryTable], links: _Links, top: int) -> None:
        self.tables, self.links, self.top = tables, links, top
        self.files = self.file_bytes = self.disk = self.dirs = 0
        self.by_layer = [0] * len(tables)
        self.wasted: list[tuple[int, str, Wasted]] = []  # a heap of the ``top`` largest
        self.largest: list[tuple[int, bytes, int]] = []  # a heap of (size, key, layer)

    def add(self, g: _Group) -> None:
        if g.visible is not None:
            self.shown(g.key, g.visible)
        if g.hidden:
            self.hide(g)

    def shown(self, key: bytes, ref: Ref) -> None:
        layer, idx = self.links.inode.get(ref, ref) if self.links.inode else ref
        table = self.tables[layer]
        code = table.code(idx)
        if code != FILE:
            self.dirs += ref == (layer, idx) and code == DIR
            return
        if self.links.primary.get((layer, idx), key) != key:
            return  # a further name of a file counted under its listed name
        size = table.size(idx)
        self.files += 1
        self.file_bytes += size
        self.disk += -(-size // DISK_BLOCK) * DISK_BLOCK
        heap = self.largest
        if len(heap) < self.top:
            heapq.heappush(heap, (size, key, layer))
        elif self.top and size > heap[0][0]:  # ties keep the first path in key order
            heapq.heapreplace(heap, (size, key, layer))

    def hide(self, g: _Group) -> None:
        total = copies = 0
        lowest, last = len(self.tables), (0, _OVERWRITTEN)
        for ref, by, how in g.hidden:
            t = self.tables[ref[0]]
            if t.code(ref[1]) != FILE or ref in self.links.names:
                continue  # a hardlink carries no bytes; a file with a name left is not waste
            size = t.size(ref[1])
            total += size
            copies += 1
            lowest, last = min(lowest, ref[0]), (by, how)
            self.by_layer[ref[0]] += size
        if copies:
            path = key_name(g.key)
            w = Wasted(path, total, copies, lowest, last[0], _HOW[last[1]])
            self._keep(self.wasted, (total, path, w))

    def _keep(self, heap: list, item: tuple) -> None:  # type: ignore[type-arg]
        if len(heap) < self.top:
            heapq.heappush(heap, item)
        elif self.top and item[:2] > heap[0][:2]:
            heapq.heapreplace(heap, item)


def _problems(links: _Links, digests: Sequence[str | None] | None) -> tuple[Problem, ...]:
    return tuple(
        Problem(
            Kind.BAD_HARDLINK,
            digests[n] if digests is not None and n < len(digests) else None,
            "",
            f"layer {n + 1}: {message}",
        )
        for n, message in links.problems
    )


def merge(
    tables: Sequence[EntryTable], top: int = 10, digests: Sequence[str | None] | None = None
) -> MergeResult:
    """The merged filesystem of ``tables`` (layer 0 = base) and what later layers hide.

    ``digests``, when given, names each layer's blob in the ``problems`` (bad hardlinks).
    Sizes are bytes; disk bytes round each file up to 4096-byte blocks and count a block per
    directory.
    """
    links = _resolve(tables)
    acc = _Totals(tables, links, top)
    sweep = _Sweep(tables, links)
    for g in sweep.groups():
        acc.add(g)
    shipped = sum(t.file_bytes() for t in tables)
    return MergeResult(
        acc.files,
        acc.file_bytes,
        acc.disk + acc.dirs * DISK_BLOCK,
        shipped,
        sum(acc.by_layer),
        tuple(acc.by_layer),
        tuple(w for _, _, w in sorted(acc.wasted, reverse=True)),
        tuple((key_name(k), s, n) for s, k, n in sorted(acc.largest, reverse=True)),
        tuple(sorted(sweep.dangling)),
        _problems(links, digests),
    )


def merged_entries(tables: Sequence[EntryTable]) -> list[Ref]:
    """(layer, entry index) of every path in the merged filesystem, in key order (a directory
    directly followed by its subtree). A hardlink is listed as the tar has it: use
    merged_files() for what overlay shows."""
    links = _resolve(tables)
    return [g.visible for g in _Sweep(tables, links).groups() if g.visible is not None]


def merged_files(tables: Sequence[EntryTable]) -> Iterator[TarEntry]:
    """The merged filesystem's entries, in key order, produced one at a time (memory does not
    grow with the number of files). A hardlink whose target name is gone is listed as the
    regular file it now is (the shared inode's size, mode and owner); further names of the
    same file link to it."""
    return (entry for entry, _ in merged_view(tables))


def merged_view(tables: Sequence[EntryTable]) -> Iterator[tuple[TarEntry, bytes | None]]:
    """merged_files' entries, each with the sha256 of its content (EntryTable.content_hash of
    the file holding the data: a hardlink's is its inode's), None when not hashed."""
    links = _resolve(tables)
    for g in _Sweep(tables, links).groups():
        if g.visible is None:
            continue
        layer, idx = g.visible
        entry = tables[layer].entry(idx)
        inode = links.inode.get(g.visible, g.visible)
        primary = links.primary.get(inode)
        if primary is not None and tables[layer].code(idx) == HARDLINK:
            if primary == g.key:
                data = tables[inode[0]].entry(inode[1])
                entry = data._replace(name=entry.name, raw_name=entry.raw_name)
            else:
                entry = entry._replace(linkname=key_name(primary))
        yield entry, tables[inode[0]].content_hash(inode[1])
