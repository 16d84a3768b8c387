"""The entry table gives back exactly what was added, in any order of reading."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from ocianalyze.entries import EntryTable, name_key
from ocianalyze.tarwalk import TarEntry

parts = st.sampled_from(["a", "ab", "b", ".wh.a", "é", "\udcff", "x" * 300, "d", "d-e", "0"])
names = st.lists(parts, min_size=1, max_size=4).map("/".join)
times = st.one_of(st.integers(-(2**70), 2**70), st.floats(allow_nan=False), st.just(float("nan")))
sizes = st.one_of(st.integers(0, 300), st.integers(0, 2**63 - 1))


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    st.lists(
        st.tuples(names, sizes, times, st.sampled_from(["file", "dir", "weird"])), max_size=60
    ),
    st.lists(st.integers(0, 60), max_size=5),
    st.randoms(use_true_random=False),
)
def test_every_column_reads_back_in_any_order(rows: list, cuts: list[int], rnd: object) -> None:
    entries = [TarEntry(n, k, s, 0o644, 1, 2, t, "", n) for n, s, t, k in rows]
    table = EntryTable()
    bounds = [0, *sorted(c for c in cuts if c < len(entries)), len(entries)]
    for a, b in pairwise(bounds):
        table.add_all(entries[a:b])
    order = list(range(len(entries)))
    rnd.shuffle(order)  # type: ignore[attr-defined]
    for i in order + list(range(len(entries))):
        got, want = table.entry(i), entries[i]
        assert table.key(i) == name_key(want.name)
        assert got[:6] == (want.name, want.type if want.type != "weird" else "other", *want[2:6])
        assert got.mtime == want.mtime or (got.mtime != got.mtime and want.mtime != want.mtime)
    assert table.whiteouts() == [i for i, e in enumerate(entries) if ".wh." in e.name]
    assert table.file_bytes() == sum(e.size for e in entries if e.type == "file")
