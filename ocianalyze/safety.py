"""Checks on tar entries that would be unsafe to extract: found while walking, never followed.

Duplicate and case-only-different names are found by keeping 64-bit hashes of the names, not
the names. The first EXACT_NAMES names of a layer go into a set of casefolded-name hashes (about
50 bytes a name), with the exact-name hash beside it for the names casefolding changes: a name
repeating one of them is named in the finding. Past that, hashes go into arrays (8 bytes a
name, 16 for a name with capitals), split by their top 4 bits so that each part can be checked
on its own when the layer ends: a million-entry layer then costs 8 MB, not 50. Duplicates found
there are counted, not named (their names are gone); a repeat of one of the first names, or
within one batch, is still named. A 64-bit hash collision among a million names has odds of
about 3e-8.

Entries come in batches. A batch in which no check can fire, as decided by a few passes that
run in C (joins, hashing, set and dict operations), is only recorded; any other batch is
checked entry by entry. Per-entry Python code held the GIL long enough to slow the thread that
inflates the layer.
"""

from __future__ import annotations

import posixpath
import stat
from array import array
from bisect import bisect_left
from collections import Counter
from functools import reduce
from itertools import compress
from operator import attrgetter, ne, or_

from .errors import Kind
from .tarwalk import TarEntry

_SETID = stat.S_ISUID | stat.S_ISGID
MAX_PER_KIND = 5  # named findings per kind and layer; the rest are counted
# (kind, message, how many findings it stands for: 1, or N for "and N more like it")
Finding = tuple[Kind, str, int]
_NAME, _RAW, _TYPE = attrgetter("name"), attrgetter("raw_name"), attrgetter("type")
_MODE, _LINK = attrgetter("mode"), attrgetter("linkname")
_ALWAYS_CHECKED = frozenset({"hardlink", "char", "block"})  # rare: checked one by one
EXACT_NAMES = 1 << 14  # names per layer whose hashes are kept in a set (and named when repeated)
_PARTS = [-(1 << 63) + (k << 60) for k in range(1, 16)]  # hash(str) is a signed 64-bit int


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
    """Given every entry of one layer, in batches; collects (kind, message) findings.

    ``exact_names``: how many names are kept in the set (see the module docstring)."""

    def __init__(self, exact_names: int = EXACT_NAMES) -> None:
        self.findings: list[Finding] = []
        self._counts: dict[Kind, int] = {}
        self._limit = exact_names
        self._folded: set[int] = set()  # hash(name.casefold()) of the first names
        self._exact: dict[int, int] = {}  # folded hash -> hash(name), where the two differ
        self._recent: dict[int, int] = {}  # folded -> exact hash, this batch, past the set
        # every name of this batch past the set, repeats included: a name matched by the
        # batch's first spelling must still meet the spellings of earlier batches
        self._past: list[tuple[int, int]] = []
        self._spellings: dict[int, set[int]] = {}  # folded -> exact hashes, where several
        # folded hashes past the set already named, by kind: a repeat within one batch is
        # named, and its two names also reach _late, where it must not be counted again
        self._named_late: dict[Kind, set[int]] = {}
        self._late = [array("q") for _ in range(len(_PARTS) + 1)]  # folded hashes, by top bits
        self._cased = (array("q"), array("q"))  # (folded, exact) where they differ, past the set

    def _find(self, kind: Kind, message: str) -> None:
        n = self._counts.get(kind, 0) + 1
        self._counts[kind] = n
        if n <= MAX_PER_KIND:
            self.findings.append((kind, message, 1))

    def check(self, entries: list[TarEntry]) -> None:
        """Check a batch: entry by entry unless _harmless screens it."""
        self._check_batch(entries, _harmless(entries))

    def check_screened(self, entries: list[TarEntry]) -> None:
        """``check`` for a batch the C header loop screened as _harmless does (a raw name
        with a leading "/" or "..", a hardlink, a device, a symlink target with "..", or a
        setuid/setgid file singles a batch out): only the name checks remain."""
        self._check_batch(entries, True)

    def _check_batch(self, entries: list[TarEntry], harmless: bool) -> None:
        if harmless:
            names = list(map(_NAME, entries))
            folded = list(map(hash, map(str.casefold, names)))
            # all names distinct, even by case, and none seen before: record them
            if len(set(folded)) == len(names) and self._folded.isdisjoint(folded):
                self._record(folded, list(map(hash, names)))
                return
        for e in entries:
            self._check(e)
        if self._past:
            self._late_add([f for f, _ in self._past], [x for _, x in self._past])
            self._past.clear()
            self._recent.clear()

    def _record(self, folded: list[int], exact: list[int]) -> None:
        room = max(0, self._limit - len(self._folded))
        self._folded.update(folded[:room])
        if exact != folded:  # some names have capitals
            pairs = zip(folded[:room], exact[:room], strict=True)
            self._exact.update((f, x) for f, x in pairs if f != x)
        if len(folded) > room:
            self._late_add(folded[room:], exact[room:])

    def _late_add(self, folded: list[int], exact: list[int]) -> None:
        ordered = sorted(folded)
        cuts = [0, *(bisect_left(ordered, b) for b in _PARTS), len(ordered)]
        for part, a, b in zip(self._late, cuts, cuts[1:], strict=False):
            part.extend(ordered[a:b])
        differ = list(map(ne, folded, exact))
        if any(differ):
            self._cased[0].extend(compress(folded, differ))
            self._cased[1].extend(compress(exact, differ))

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
            # Runtimes mount a fresh /dev over the image's (Docker and containerd: a tmpfs),
            # so a node there is never seen by the container; anywhere else mknod makes it.
            under_dev = e.name == "dev" or e.name.startswith("dev/")
            kind = Kind.DEVICE_NODE if under_dev else Kind.DEVICE_NODE_OUTSIDE_DEV
            self._find(kind, f"{e.type} device {e.name!r}")
        if e.type == "file" and e.mode & _SETID:
            self._find(Kind.SETUID, f"setuid/setgid file {e.name!r} (mode {e.mode & 0o7777:o})")
        self._names_check(e.name)

    def _names_check(self, name: str) -> None:
        exact, folded = hash(name), hash(name.casefold())
        known = self._exact.get(folded, folded) if folded in self._folded else None
        late = known is None and len(self._folded) >= self._limit
        if late:
            self._past.append((folded, exact))
            known = self._recent.get(folded)
            if known is None:
                self._recent[folded] = exact
                return
        elif known is None:
            self._folded.add(folded)
            if exact != folded:
                self._exact[folded] = exact
            return
        # the spellings met so far, kept only for names met in two spellings (rare)
        spellings = self._spellings.setdefault(folded, {known}) if known != exact else None
        if known == exact or (spellings is not None and exact in spellings):
            kind = Kind.DUPLICATE_ENTRY
            self._find(kind, f"{name!r} appears more than once")
        else:
            assert spellings is not None
            spellings.add(exact)
            kind = Kind.CASE_COLLISION
            self._find(kind, f"{name!r} differs from another name only by case")
        if late:
            self._named_late.setdefault(kind, set()).add(folded)

    def _late_findings(self) -> list[Finding]:
        """Repeats among the names past the set, found from their hashes: counted, unnamed."""
        repeated: dict[int, int] = {}  # folded hash -> times seen
        for part in self._late:
            if len(set(part)) != len(part):
                repeated.update((h, n) for h, n in Counter(part).items() if n > 1)
        if not repeated:
            return []
        cased: dict[int, list[int]] = {}
        for f, x in zip(*self._cased, strict=True):
            if f in repeated:
                cased.setdefault(f, []).append(x)
        dups = collisions = 0
        named_dups = self._named_late.get(Kind.DUPLICATE_ENTRY, set())
        named_collisions = self._named_late.get(Kind.CASE_COLLISION, set())
        for f, n in repeated.items():
            exacts = cased.get(f, [])
            exacts += [f] * (n - len(exacts))  # a name casefolding leaves alone: exact == folded
            dups += len(set(exacts)) < len(exacts) and f not in named_dups
            collisions += len(set(exacts)) > 1 and f not in named_collisions
        where = f"past the first {self._limit} entries of the layer, where names are not kept"
        found: list[Finding] = []
        if dups:
            found.append(
                (Kind.DUPLICATE_ENTRY, f"{dups} more names appear more than once ({where})", dups)
            )
        if collisions:
            message = f"{collisions} more names differ only by case ({where})"
            found.append((Kind.CASE_COLLISION, message, collisions))
        return found

    def summary(self) -> list[Finding]:
        """Every finding: the named ones, then one counted finding per kind past the named."""
        extra = [
            (k, f"and {n - MAX_PER_KIND} more like it", n - MAX_PER_KIND)
            for k, n in self._counts.items()
            if n > MAX_PER_KIND
        ]
        return self.findings + extra + self._late_findings()


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
