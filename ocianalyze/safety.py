"""Checks on tar entries that would be unsafe to extract: found while walking, never followed.

Duplicate and case-only-different names are found with a compact open-addressing set of 64-bit
name hashes (16 bytes per entry on average), so a layer of millions of files stays cheap.
"""

from __future__ import annotations

import posixpath
import stat
from array import array

from .errors import Kind
from .tarwalk import TarEntry

MAX_PER_KIND = 5  # named findings per kind and layer; the rest are counted


class HashSet:
    """A set of non-zero 64-bit ints in one flat array (linear probing, grows at half full)."""

    def __init__(self) -> None:
        self._slots = array("Q", bytes(8 * 1024))
        self._used = 0

    def add(self, value: int) -> bool:
        """Add ``value``; True if it was already present."""
        value = (value & 0xFFFFFFFFFFFFFFFF) or 1
        slots, mask = self._slots, len(self._slots) - 1
        i = value & mask
        while slots[i]:
            if slots[i] == value:
                return True
            i = (i + 1) & mask
        slots[i] = value
        self._used += 1
        if self._used * 2 > len(slots):
            self._grow()
        return False

    def _grow(self) -> None:
        old = self._slots
        self._slots = array("Q", bytes(16 * len(old)))
        self._used = 0
        for v in old:
            if v:
                self.add(v)


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
    """Called for every entry of one layer; collects (kind, message) findings."""

    def __init__(self) -> None:
        self.findings: list[tuple[Kind, str]] = []
        self._counts: dict[Kind, int] = {}
        self._names = HashSet()
        self._folded = HashSet()

    def _find(self, kind: Kind, message: str) -> None:
        n = self._counts.get(kind, 0) + 1
        self._counts[kind] = n
        if n <= MAX_PER_KIND:
            self.findings.append((kind, message))

    def __call__(self, e: TarEntry) -> None:
        raw = e.raw_name
        if raw.startswith("/"):
            self._find(Kind.UNSAFE_PATH, f"absolute path {raw!r}")
        if ".." in raw.split("/"):
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
        if e.type == "file" and e.mode & (stat.S_ISUID | stat.S_ISGID):
            self._find(Kind.SETUID, f"setuid/setgid file {e.name!r} (mode {e.mode & 0o7777:o})")
        self._names_check(e.name)

    def _names_check(self, name: str) -> None:
        if self._names.add(hash(name)):
            self._find(Kind.DUPLICATE_ENTRY, f"{name!r} appears more than once")
        elif self._folded.add(hash(name.casefold())):
            self._find(Kind.CASE_COLLISION, f"{name!r} differs from another name only by case")

    def summary(self) -> list[tuple[Kind, str]]:
        extra = [
            (k, f"and {n - MAX_PER_KIND} more like it")
            for k, n in self._counts.items()
            if n > MAX_PER_KIND
        ]
        return self.findings + extra
