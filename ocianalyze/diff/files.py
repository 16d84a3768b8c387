"""The file level of a diff: two merged filesystems compared path by path.

Both merged views come out of merge.merged_view in key order (a directory, then its subtree),
so one sorted sweep pairs them, like comm(1): nothing but the tables the walker kept (and the
changes found) is in memory, never a dict of every path. Contents are compared by the sha256
of each regular file's bytes that the walker computed while the layer passed
(ScanOptions.hash_files): a file whose bytes change but not its size is found
(container-diff#339 missed it).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ..entries import EntryTable, name_key
from ..merge import merged_view
from ..tarwalk import TarEntry
from .result import Aspect, Change, FileChange, FileDiff, FileState

_View = Iterator[tuple[TarEntry, bytes | None]]


def state(entry: TarEntry, digest: bytes | None) -> FileState:
    """One side of a path, as the diff compares it."""
    size = entry.size if entry.type == "file" else 0
    sha = digest.hex() if digest is not None and entry.type == "file" else None
    mode = entry.mode & 0o7777  # permission bits: some writers add the type bits, some not
    return FileState(entry.type, size, mode, entry.uid, entry.gid, entry.linkname, sha)


def aspects(old: FileState, new: FileState) -> tuple[Aspect, ...]:
    """What differs between two sides of one path. Content counts only when both sides are
    regular files with a digest; a directory's size means nothing and is not compared."""
    what = []
    if old.type != new.type:
        what.append(Aspect.type)
    if old.type == new.type == "file":
        if old.sha256 and new.sha256 and old.sha256 != new.sha256:
            what.append(Aspect.content)
        if old.size != new.size:
            what.append(Aspect.size)
    if old.mode != new.mode:
        what.append(Aspect.mode)
    if (old.uid, old.gid) != (new.uid, new.gid):
        what.append(Aspect.owner)
    if old.link != new.link:
        what.append(Aspect.link)
    return tuple(what)


def _keyed(view: _View) -> Iterator[tuple[bytes, TarEntry, bytes | None]]:
    for entry, digest in view:
        yield name_key(entry.name), entry, digest


def compare_views(old: _View, new: _View) -> FileDiff:
    """Pair two merged views (each in key order) and list what differs, in key order."""
    changes: list[FileChange] = []
    unchanged = 0
    olds, news = _keyed(old), _keyed(new)
    a, b = next(olds, None), next(news, None)
    while a is not None or b is not None:
        if b is None or (a is not None and a[0] < b[0]):
            assert a is not None
            changes.append(FileChange(a[1].name, Change.removed, (), state(a[1], a[2]), None))
            a = next(olds, None)
        elif a is None or b[0] < a[0]:
            changes.append(FileChange(b[1].name, Change.added, (), None, state(b[1], b[2])))
            b = next(news, None)
        else:
            before, after = state(a[1], a[2]), state(b[1], b[2])
            what = aspects(before, after)
            if what:
                changes.append(FileChange(b[1].name, Change.changed, what, before, after))
            else:
                unchanged += 1
            a, b = next(olds, None), next(news, None)
    return FileDiff(tuple(changes), unchanged)


def compare_files(old: Sequence[EntryTable], new: Sequence[EntryTable]) -> FileDiff:
    """The file diff of two images given their layers' entry tables (base first), made with
    content hashes (EntryTable(hashes=True))."""
    return compare_views(merged_view(old), merged_view(new))
