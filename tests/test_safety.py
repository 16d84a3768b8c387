"""SafetyChecker.check's batch shortcut must find exactly what checking entry by entry finds."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocianalyze.errors import Kind
from ocianalyze.safety import SafetyChecker
from ocianalyze.tarwalk import TarEntry

KINDS = ["file", "dir", "symlink", "hardlink", "char", "block", "fifo", "other"]
parts = st.sampled_from(["a", "A", "b", "..", ".", "", "x.y", "é", "É"])
paths = st.lists(parts, min_size=1, max_size=4).map("/".join)
raw_names = st.one_of(paths, paths.map(lambda p: "/" + p), paths.map(lambda p: "./" + p))
entries = st.builds(
    lambda raw, kind, mode, link: TarEntry(
        raw.lstrip("./") or ".", kind, 0, mode, 0, 0, 0, link, raw
    ),
    raw_names,
    st.sampled_from(KINDS),
    st.sampled_from([0o644, 0o755, 0o4755, 0o2755, 0o1777]),
    st.one_of(st.just(""), paths, paths.map(lambda p: "/" + p)),
)


def one_by_one(items: list[TarEntry]) -> SafetyChecker:
    """The reference: every check on every entry, no shortcut."""
    checker = SafetyChecker()
    for e in items:
        checker._check(e)
    return checker


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(entries, max_size=40), st.lists(st.integers(0, 40), max_size=6))
def test_batches_find_what_single_entries_find(items: list[TarEntry], cuts: list[int]) -> None:
    bounds = [0, *sorted(c for c in cuts if c < len(items)), len(items)]
    batched = SafetyChecker()
    for a, b in itertools.pairwise(bounds):
        if b > a:
            batched.check(items[a:b])
    single = one_by_one(items)
    assert batched.summary() == single.summary()


def test_a_harmless_batch_is_still_remembered() -> None:
    """The shortcut records names: a later batch repeating one, or one differing by case,
    is found."""
    first = [TarEntry(n, "file", 0, 0o644, 0, 0, 0, "", n) for n in ("usr/a", "usr/b")]
    checker = SafetyChecker()
    checker.check(first)
    assert checker.summary() == []
    checker.check([TarEntry("usr/B", "file", 0, 0o644, 0, 0, 0, "", "usr/B")])
    checker.check([TarEntry("usr/a", "file", 0, 0o644, 0, 0, 0, "", "usr/a")])
    assert [k for k, *_ in checker.summary()] == [Kind.CASE_COLLISION, Kind.DUPLICATE_ENTRY]


def entry(name: str, kind: str = "file", mode: int = 0o644, link: str = "") -> TarEntry:
    return TarEntry(name.lstrip("/"), kind, 0, mode, 0, 0, 0, link, name)


@pytest.mark.parametrize(
    ("bad", "kind"),
    [
        (entry("/etc/passwd"), Kind.UNSAFE_PATH),
        (entry("a/../../x"), Kind.UNSAFE_PATH),
        (entry("usr/lnk", "symlink", link="../../../etc"), Kind.LINK_ESCAPE),
        (entry("usr/hard", "hardlink", link="/etc/shadow"), Kind.LINK_ESCAPE),
        (entry("srv/sda", "block"), Kind.DEVICE_NODE_OUTSIDE_DEV),
        (entry("dev/sda", "block"), Kind.DEVICE_NODE),
        (entry("dev", "char"), Kind.DEVICE_NODE),
        (entry("devices/sda", "block"), Kind.DEVICE_NODE_OUTSIDE_DEV),
        (entry("usr/bin/su", mode=0o4755), Kind.SETUID),
        (entry("usr/lib/a"), Kind.DUPLICATE_ENTRY),
        (entry("usr/lib/A"), Kind.CASE_COLLISION),
    ],
)
def test_each_check_fires_inside_an_ordinary_batch(bad: TarEntry, kind: Kind) -> None:
    ordinary = [entry(f"usr/lib/{c}") for c in "abc"] + [entry("usr/ok", "symlink", link="lib/a")]
    checker = SafetyChecker()
    checker.check([*ordinary, bad])
    assert [k for k, *_ in checker.summary()] == [kind]


def names_batch(names: list[str]) -> list[TarEntry]:
    return [TarEntry(n, "file", 0, 0o644, 0, 0, 0, "", n) for n in names]


def test_past_the_kept_names_repeats_are_still_found_and_counted() -> None:
    """Past ``exact_names`` only hashes are kept: repeats across batches are counted at the
    layer end (duplicates apart from case collisions); a repeat of a kept name is named."""
    checker = SafetyChecker(exact_names=4)
    checker.check(names_batch(["k0", "k1", "k2", "k3", "a", "b", "Readme"]))
    checker.check(names_batch(["c", "a", "README", "k2"]))  # a: dup, README: case, k2: named
    checker.check(names_batch(["b", "b2"]))  # b: dup
    where = "past the first 4 entries of the layer, where names are not kept"
    assert checker.summary() == [
        (Kind.DUPLICATE_ENTRY, "'k2' appears more than once", 1),
        (Kind.DUPLICATE_ENTRY, f"2 more names appear more than once ({where})", 2),
        (Kind.CASE_COLLISION, f"1 more names differ only by case ({where})", 1),
    ]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    st.lists(st.sampled_from(["a", "A", "b", "B", "c", "é", "É", "d/x"]), max_size=30),
    st.integers(0, 6),
)
def test_kinds_found_do_not_depend_on_how_many_names_are_kept(names: list[str], kept: int) -> None:
    items = names_batch(names)
    small, large = SafetyChecker(exact_names=kept), SafetyChecker()
    for i in range(0, len(items), 3):
        small.check(items[i : i + 3])
        large.check(items[i : i + 3])
    assert {k for k, *_ in small.summary()} == {k for k, *_ in large.summary()}


@settings(max_examples=400, deadline=None, derandomize=True)
@given(
    st.lists(st.sampled_from(["a", "A", "b", "B", "c", "é", "É", "d/x"]), max_size=30),
    st.integers(0, 6),
    st.integers(1, 5),
)
def test_name_kinds_match_a_plain_count(names: list[str], kept: int, step: int) -> None:
    """Whatever the batching and however many names are kept: a duplicate_entry when a name
    repeats exactly, a case_collision when two spellings fold alike (counted independently)."""
    want = set()
    if len(set(names)) < len(names):
        want.add(Kind.DUPLICATE_ENTRY)
    if len({n.casefold() for n in names}) < len(set(names)):
        want.add(Kind.CASE_COLLISION)
    items = names_batch(names)
    checker = SafetyChecker(exact_names=kept)
    for i in range(0, len(items), step):
        checker.check(items[i : i + step])
    assert {k for k, *_ in checker.summary()} == want


def _totals(checker: SafetyChecker) -> dict[Kind, int]:
    """Findings per kind, named ones and counted ones together."""
    totals: dict[Kind, int] = {}
    for kind, _, n in checker.summary():
        totals[kind] = totals.get(kind, 0) + n
    return totals


def test_a_repeat_within_one_batch_past_the_kept_names_is_reported_once() -> None:
    """Named (both names are in the batch), and not counted again at the layer end, where
    its two hashes are found repeated too."""
    checker = SafetyChecker(exact_names=2)
    checker.check(names_batch(["k0", "k1", "x", "a/b", "A/B", "y", "z", "z"]))
    assert checker.summary() == [
        (Kind.CASE_COLLISION, "'A/B' differs from another name only by case", 1),
        (Kind.DUPLICATE_ENTRY, "'z' appears more than once", 1),
    ]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    st.lists(st.integers(0, 2), min_size=1, max_size=40),
    st.integers(0, 8),
    st.integers(1, 7),
    st.randoms(use_true_random=False),
)
def test_each_repeat_is_reported_once_whatever_the_batching(
    repeats: list[int], kept: int, step: int, rng: random.Random
) -> None:
    """Names met at most twice (0: once, 1: again alike, 2: again by another case): the
    findings add up to one per repeated name of each kind, named or counted, for any number
    of kept names and any batches, as a plain count over the names says."""
    names = [f"n{i}" for i in range(len(repeats))]
    names += [f"n{i}" if r == 1 else f"N{i}" for i, r in enumerate(repeats) if r]
    rng.shuffle(names)
    checker = SafetyChecker(exact_names=kept)
    items = names_batch(names)
    for i in range(0, len(items), step):
        checker.check(items[i : i + step])
    want = {Kind.DUPLICATE_ENTRY: repeats.count(1), Kind.CASE_COLLISION: repeats.count(2)}
    assert _totals(checker) == {k: n for k, n in want.items() if n}
