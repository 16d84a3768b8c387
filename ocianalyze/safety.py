"""Checks on tar entries that would be unsafe to extract: found while walking, never followed.

Duplicate and case-only-different names are found by keeping 64-bit hashes of the names, not
the names: a set of casefolded-name hashes (about 50 bytes per entry of a layer, freed when the
layer ends), and the exact-name hash only for the few names that casefolding changes.

Entries come in batches. A batch in which no check can fire, as decided by a few passes that
run in C (joins, hashing, set and dict operations), is only recorded; any other batch is
checked entry by entry. Per-entry Python code held the GIL long enough to slow the thread that
inflates the layer.
"""

from __future__ import annotations

import posixpath
import stat
from functools import reduce
from operator import attrgetter, or_

from .errors import Kind
from .tarwalk import TarEntry

_SETID = stat.S_ISUID | stat.S_ISGID
MAX_PER_KIND = 5  # named findings per kind and layer; the rest are counted
_NAME, _RAW, _TYPE = attrgetter("name"), attrgetter("raw_name"), attrgetter("type")
_MODE, _LINK = attrgetter("mode"), attrgetter("linkname")
_ALWAYS_CHECKED = frozenset({"hardlink", "char", "block"})  # rare: checked one by one


def _escapes(base: str, target: str) -> bool:
    """Does ``target``, taken relative to directory ``base``, climb above the root?"""
    depth = base.count("/") + 1 if base else 0
    for part in target.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in ("", "."):
            depth += 1
    return False


class SafetyChecker:
    """Given every entry of one layer, in batches; collects (kind, message) findings."""

    def __init__(self) -> None:
        self.findings: list[tuple[Kind, str]] = []
        self._counts: dict[Kind, int] = {}
        self._folded: set[int] = set()  # hash(name.casefold()) of every name so far
        self._exact: dict[int, int] = {}  # folded hash -> hash(name), where the two differ

    def _find(self, kind: Kind, message: str) -> None:
        n = self._counts.get(kind, 0) + 1
        self._counts[kind] = n
        if n <= MAX_PER_KIND:
            self.findings.append((kind, message))

    def check(self, entries: list[TarEntry]) -> None:
        if _harmless(entries):
            names = list(map(_NAME, entries))
            folded = list(map(hash, map(str.casefold, names)))
            # all names distinct, even by case, and none seen before: record them
            if len(set(folded)) == len(names) and self._folded.isdisjoint(folded):
                self._folded.update(folded)
                exact = list(map(hash, names))
                if exact != folded:  # some names have capitals
                    self._exact.update((f, x) for f, x in zip(folded, exact, strict=True) if f != x)
                return
        for e in entries:
            self._check(e)

    def _check(self, e: TarEntry) -> None:
        raw = e.raw_name
        if raw.startswith("/"):
            self._find(Kind.UNSAFE_PATH, f"absolute path {raw!r}")
        if ".." in raw and ".." in raw.split("/"):
            self._find(Kind.UNSAFE_PATH, f"'..' in path {raw!r}")
        if e.type == "hardlink" and (e.linkname.startswith("/") or _escapes("", e.linkname)):
            self._find(Kind.LINK_ESCAPE, f"hardlink {e.name!r} -> {e.linkname!r} leaves the root")
        elif (
            e.type == "symlink"
            and not e.linkname.startswith("/")
            and _escapes(posixpath.dirname(e.name), e.linkname)
        ):
            self._find(Kind.LINK_ESCAPE, f"symlink {e.name!r} -> {e.linkname!r} leaves the root")
        if e.type in ("char", "block"):
            self._find(Kind.DEVICE_NODE, f"{e.type} device {e.name!r}")
        if e.type == "file" and e.mode & _SETID:
            self._find(Kind.SETUID, f"setuid/setgid file {e.name!r} (mode {e.mode & 0o7777:o})")
        self._names_check(e.name)

    def _names_check(self, name: str) -> None:
        exact, folded = hash(name), hash(name.casefold())
        if folded not in self._folded:
            self._folded.add(folded)
            if exact != folded:
                self._exact[folded] = exact
        elif self._exact.get(folded, folded) == exact:
            self._find(Kind.DUPLICATE_ENTRY, f"{name!r} appears more than once")
        else:
            self._find(Kind.CASE_COLLISION, f"{name!r} differs from another name only by case")

    def summary(self) -> list[tuple[Kind, str]]:
        extra = [
            (k, f"and {n - MAX_PER_KIND} more like it")
            for k, n in self._counts.items()
            if n > MAX_PER_KIND
        ]
        return self.findings + extra


def _harmless(entries: list[TarEntry]) -> bool:
    """True when no check but the name checks can fire for any entry of the batch."""
    raws = "\n" + "\n".join(map(_RAW, entries))
    if "\n/" in raws or ".." in raws:
        return False
    kinds = set(map(_TYPE, entries))
    if not kinds.isdisjoint(_ALWAYS_CHECKED):
        return False
    # a symlink escapes only through "..": absolute targets are left to the runtime's root
    if "symlink" in kinds and ".." in "\n".join(map(_LINK, entries)):
        return False
    return not (reduce(or_, map(_MODE, entries), 0) & _SETID and "file" in kinds)
