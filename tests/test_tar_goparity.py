"""The tar walker against Go's archive/tar, the reader Docker and containerd unpack layers with.

tests/gotar/main.go lists tars with Go (Reader.Next, each entry's data then read to the end as
an applier copies it; that read is where Go checks a sparse map against the stored data). The
same bytes go through TarWalker, with the C loop and without, fed in odd-sized chunks; both
must give Go's entries (name, type, size, link, mode, uid, gid, mtime) and accept or refuse
the archive as Go does, over thousands of generated and mutated archives.

Compared at the Reader level, with these legitimate differences:
- PAX global headers ('g'): Go's Next returns them as entries of their own; Docker's applier
  skips them, and so does the walker. They are dropped from Go's list before comparing.
- sizes of entries that are not regular files: Go reports the header's size field (a hard link
  may say 100, a directory -5); TarEntry.size is 0 for them, since no data is stored.
- types: TarEntry.type is a word ('0', '7' and 'S' are "file"; letters Go does not know are
  "other"); Go's legacy NUL typeflag is already "0" or "5" when Next returns it.
- the names: Go's are bytes; the walker's are str decoded with surrogateescape (compared as
  the bytes they encode back to).
- an empty stream: Go lists nothing, without error; the walker refuses it as not a tar (see
  test_an_empty_stream_is_the_one_refusal_go_does_not_make).
- a sparse file whose logical size passes 16 MiB: Go's data is read that far only (its holes
  read as zero bytes: an exabyte would never end), so a refusal of that entry for a map that
  does not match the stored data cannot be confirmed by Go and is accepted.
- on refusal, the error text differs; the entries returned before it must not.
It skips where `go` is not installed; CI installs Debian's golang-go.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from ocianalyze.tarwalk import TarError, TarWalker

from .gotar import build_go
from .gotar.rawtar import (
    END,
    GNU,
    USTAR,
    header,
    long_name,
    member,
    old_gnu_sparse,
    pad,
    pax,
    pax_record,
    pax_sparse,
)

MAIN = Path(__file__).parent / "gotar" / "main.go"
KINDS = {
    ord(c): k
    for c, k in zip("123456", ["hardlink", "symlink", "char", "block", "dir", "fifo"], strict=True)
}
KINDS |= {ord("0"): "file", ord("7"): "file", ord("S"): "file"}
Shape = tuple[bytes, str, int, bytes, int, int, int, int, bytes]


class GoReader:
    """One long-running gotar process: paths in, one JSON line out per path."""

    def __init__(self, exe: Path, work: Path) -> None:
        self.work = work
        self.proc = subprocess.Popen(
            [str(exe)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.count = 0

    def read(self, archives: list[bytes]) -> list[dict[str, Any]]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        paths = []
        for data in archives:
            self.count += 1
            path = self.work / f"{self.count % 64}.tar"
            path.write_bytes(data)
            paths.append(str(path))
        self.proc.stdin.write("".join(p + "\n" for p in paths))
        self.proc.stdin.flush()
        return [json.loads(self.proc.stdout.readline()) for _ in paths]

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def go_reader(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GoReader]:
    root = tmp_path_factory.mktemp("gotar")
    exe = build_go(MAIN, root)
    (root / "work").mkdir()
    reader = GoReader(exe, root / "work")
    yield reader
    reader.close()


def go_shape(entry: dict[str, Any]) -> Shape:
    kind = KINDS.get(entry["typeflag"], "other")
    size = entry["size"] if kind == "file" else 0
    name, link = bytes.fromhex(entry["name"]), bytes.fromhex(entry["linkname"])
    applied = bytes.fromhex(entry["applied"])
    return (
        name,
        kind,
        size,
        link,
        entry["mode"],
        entry["uid"],
        entry["gid"],
        entry["mtime"],
        applied,
    )


def go_outcome(result: dict[str, Any]) -> tuple[list[Shape], bool]:
    kept = [go_shape(e) for e in result["entries"] if e["typeflag"] != ord("g")]
    return kept, not result["error"]


def as_go(got: tuple[list[Shape], bool], result: dict[str, Any]) -> bool:
    """The walker's outcome is Go's. Where Go failed reading the last entry's data, the walker
    may have refused that entry's header already (a sparse map that does not match the data
    stored: Go finds out when the data is read) or listed it (data cut short)."""
    want = go_outcome(result)
    if got == want:
        return True
    if result["in_data"] and got == (want[0][:-1], False):
        return True
    # Go did not read all the data of entry k (see main.go), so it could not tell a sparse map
    # that does not match the data stored; the walker may refuse that entry.
    k = result["unchecked"]
    return k >= 0 and not got[1] and got[0] == want[0][:k]


def walker_outcome(data: bytes, accelerated: bool, chunk: int) -> tuple[list[Shape], bool]:
    seen: list[Any] = []
    walker = TarWalker(seen.extend, accelerated=accelerated)
    ok = True
    try:
        for at in range(0, len(data), chunk):
            walker.feed(data[at : at + chunk])
        walker.finish()
    except TarError:
        ok = False
    shapes = [
        (
            e.raw_name.encode("utf-8", "surrogateescape"),
            e.type,
            e.size,
            e.linkname.encode("utf-8", "surrogateescape"),
            e.mode,
            e.uid,
            e.gid,
            e.mtime,
            e.name.encode("utf-8", "surrogateescape"),
        )
        for e in seen
    ]
    return shapes, ok


def assert_as_go(go_reader: GoReader, archives: list[bytes]) -> None:
    for data, result in zip(archives, go_reader.read(archives), strict=True):
        for accelerated, chunk in ((True, 65536), (True, 700), (False, 1000)):
            got = walker_outcome(data, accelerated, chunk)
            assert as_go(got, result), (data[:4096], result, got, accelerated, chunk)
            assert all(type(shape[7]) is int for shape in got[0])


# ---- generated archives ----

# Shrinking a batch of 25 archives runs Go and three walks per step: minutes. The assertion
# names the one archive that differs, with both outcomes, which is what a shrink would give.
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)

NUMBER = st.sampled_from(
    [
        lambda v, w: b"%0*o\0" % (w - 1, v),
        lambda v, w: (b"%*o " % (w - 2, v)) + b"\0",  # space-padded
        lambda v, w: b"%0*o" % (w, v % (8**w)),  # no terminator
        lambda v, w: b"\0\0" + (b"%o" % v)[: w - 2],  # NULs before the digits
        lambda v, w: (b"%o\0x" % v)[:w].ljust(w, b"\0"),  # text after the NUL
        lambda v, w: (b"%o \0x" % v)[:w].ljust(w, b"\0"),  # a space, then text after a NUL
        lambda v, w: bytes([0x80]) + v.to_bytes(w - 1, "big"),  # base-256
        lambda v, w: b"\xff" * w,  # base-256 -1
        lambda v, w: b"\xc0" + b"\0" * (w - 1),  # base-256, the most negative for the width
        lambda v, w: b"\x80" + b"\xff" * (w - 1),  # base-256, past 63 bits in 12 bytes
        lambda v, w: (b"+%o" % v)[:w].ljust(w, b"\0"),  # a sign
        lambda v, w: (b"0_%o" % v)[:w].ljust(w, b"\0"),  # an underscore
        lambda v, w: (b"\t%o" % v)[:w].ljust(w, b"\0"),  # other whitespace
        lambda v, w: b" " * w,  # blank
        lambda v, w: (b"9%o" % v)[:w].ljust(w, b"\0"),  # not octal
    ]
)
NAMES = st.sampled_from(
    [
        b"file",
        b"./file",
        b"/abs/f",
        b"dir/",
        b"a/.wh.gone",
        b"caf\xc3\xa9",
        b"bad\xff",
        b"../up",
        b"",
        b"x" * 100,
    ]
)
TYPEFLAGS = st.sampled_from([b"0", b"\0", b"1", b"2", b"3", b"4", b"5", b"6", b"7", b"V", b"D"])
MAGICS = st.sampled_from([USTAR, GNU, b"\0" * 8, b"ustar\x0000"])
PAX_VALUES = {
    b"path": [b"p/a", b"../../../etc/cron.d/evil", b"", b"dir/", b"n\0ul", b"caf\xc3\xa9"],
    b"linkpath": [b"target", b"", b"../x"],
    b"mtime": [
        b"1700000000",
        b"1700000000.5",
        b"-1.5",
        b"-0.5",
        b"+5",
        b"nan",
        b"inf",
        b"1e9",
        b"",
        b" 5",
        b"5.",
        b".5",
        b"9223372036854775807",
        b"9223372036854775808",
        b"-9223372036854775808.5",
        b"-1.0000000001",
        b"0x10",
        b"1_0",
        b"\xd9\xa3",
    ],
    b"atime": [b"1.5", b"x", b""],
    b"ctime": [b"-3", b"nan"],
    b"size": [b"0", b"10", b"+10", b"-1", b"1_0", b"", b"99999999999999999999", b"600", b" 7"],
    b"uid": [b"5", b"-5", b"+5", b"4294967296", b"x", b"9223372036854775808", b"007"],
    b"gid": [b"6", b"1.5"],
    b"uname": [b"bob", b"b\0b"],
    b"comment": [b"any\0thing"],
    b"GNU.sparse.major": [b"2", b"1"],
    b"GNU.sparse.map": [b"", b"0,1"],
    b"GNU.sparse.name": [b"real/name"],
    b"GNU.sparse.realsize": [b"10", b"x"],
}
RECORDS = st.sampled_from([pax_record(k, v) for k, vs in PAX_VALUES.items() for v in vs])
MALFORMED = st.sampled_from(
    [b"5 a=\n", b"4 a\n", b"99 path=x\n", b"12 path=abcd", b"0 \n", b"9 noequal\n", b" 9 path=x\n",
     b"+10 path=x\n", b"010 path=x\n", b"9 =value\n", b"11 ke\0y=v\n", b"x"]
)  # fmt: skip


@st.composite
def plain_member(draw: st.DrawFn) -> bytes:
    typeflag = draw(TYPEFLAGS)
    size = draw(st.sampled_from([0, 1, 511, 512, 513, 1500]))
    odd = draw(st.sampled_from([None] * 10 + ["mode", "uid", "gid", "size", "mtime"]))
    values: dict[str, Any] = {
        "mode": 0o644,
        "uid": 0,
        "gid": 0,
        "size": size,
        "mtime": 1_700_000_000,
    }
    if odd is not None:
        width = 12 if odd in ("size", "mtime") else 8
        values[odd] = draw(NUMBER)(values[odd], width)
    block = header(
        draw(NAMES),
        typeflag,
        values.pop("size"),
        link=draw(st.sampled_from([b"", b"target", b"../../etc"])),
        magic=draw(MAGICS),
        prefix=draw(st.sampled_from([b"", b"usr/lib", b"\xe2\x82"])),
        checksum=draw(st.sampled_from(["unsigned"] * 12 + ["signed", "wrong", "spaces"])),
        raw=draw(st.sampled_from([None] * 8 + [{508: b"tar\0"}, {345: b"\x01bad", 357: b"x"}])),
        **values,
    )
    if typeflag in (b"1", b"2", b"3", b"4", b"5", b"6"):
        return block  # Go reads no data after these, whatever the size says
    return block + pad(bytes(range(256)) * 6)[: size + (-size % 512)]


@st.composite
def special(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["x", "x", "x", "g", "L", "K"]))
    if kind in ("L", "K"):
        return long_name(draw(NAMES) + draw(st.sampled_from([b"", b"/long" * 30])), kind.encode())
    records = draw(st.lists(RECORDS, max_size=4))
    if draw(st.integers(0, 6)) == 0:
        records.insert(draw(st.integers(0, len(records))), draw(MALFORMED))
    return pax(typeflag=kind.encode(), raw=b"".join(records))


REGIONS = st.lists(st.tuples(st.integers(0, 3000), st.integers(0, 700)), max_size=30)


@st.composite
def sparse_member(draw: st.DrawFn) -> bytes:
    regions = sorted(draw(REGIONS))
    if draw(st.booleans()):  # well formed: ordered, not overlapping
        regions, end = (
            [(o + sum(n for _, n in regions[:i]), n) for i, (o, n) in enumerate(regions)],
            0,
        )
        end = max((o + n for o, n in regions), default=0)
    else:
        end = draw(st.integers(0, 4000))
    real = end + draw(st.sampled_from([0, 0, 1, 4096, -1]))
    data = None
    if draw(st.integers(0, 4)) == 0:
        data = b"z" * draw(st.integers(0, 2000))
    name = draw(NAMES)
    form = draw(st.sampled_from(["old", "0.0", "0.1", "1.0"]))
    if form == "old":
        return old_gnu_sparse(name, max(real, 0), regions, data)
    return pax_sparse(form, name, real, regions, data)


MEMBERS = st.one_of(
    plain_member(),
    plain_member(),
    st.tuples(special(), plain_member()).map(b"".join),
    st.tuples(special(), special(), plain_member()).map(b"".join),
    special(),
    sparse_member(),
)


@st.composite
def archives(draw: st.DrawFn) -> bytes:
    data = b"".join(draw(st.lists(MEMBERS, min_size=1, max_size=5)))
    data += draw(st.sampled_from([END, END, b"\0" * 512, b"", END + b"trailing"]))
    if draw(st.integers(0, 7)) == 0:
        data = data[: draw(st.integers(1, len(data)))]
    return data or b"\0"


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    phases=NO_SHRINK,
    suppress_health_check=list(HealthCheck),
)
@given(st.lists(archives(), min_size=25, max_size=25))
def test_generated_archives_read_as_go_reads_them(go_reader: GoReader, batch: list[bytes]) -> None:
    assert_as_go(go_reader, batch)


def _tarfile_archive(fmt: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for i, name in enumerate(["d/", "d/" + "long" * 30, "d/café", "d/l", "d/h", "d/big"]):
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE if i == 0 else tarfile.REGTYPE
            if name == "d/l":
                info.type, info.linkname = tarfile.SYMTYPE, "../" * 3 + "x"
            if name == "d/h":
                info.type, info.linkname = tarfile.LNKTYPE, "d/café"
            info.mtime = 1_700_000_000.25 if fmt == tarfile.PAX_FORMAT else 1_700_000_000 + i
            info.uid = 2**22 if i == 5 and fmt != tarfile.USTAR_FORMAT else i
            info.size = 300 * i if info.type == tarfile.REGTYPE else 0
            try:
                tf.addfile(info, io.BytesIO(b"q" * info.size))
            except ValueError:  # ustar cannot hold the long name
                continue
    return buf.getvalue()


SEEDS = [
    _tarfile_archive(tarfile.USTAR_FORMAT),
    _tarfile_archive(tarfile.GNU_FORMAT),
    _tarfile_archive(tarfile.PAX_FORMAT),
    old_gnu_sparse(b"var/log/lastlog", 70_000, [(i * 2000, 100) for i in range(30)]) + END,
    pax_sparse("1.0", b"var/log/lastlog", 9000, [(0, 700), (8000, 1000)])
    + member(b"after", b"x")
    + END,
    pax_sparse("0.0", b"a/b", 5000, [(10, 20), (4000, 1000)]) + END,
    pax_sparse("0.1", b"a/c", 5000, [(0, 5), (4990, 10)]) + END,
    pax((b"path", b"usr/share/doc/README"))
    + pax((b"mtime", b"1.5"))
    + member(b"../evil", b"x")
    + END,
    pax((b"comment", b"x"), typeflag=b"g")
    + long_name(b"long/" * 40)
    + member(b"short", b"y")
    + END,
]


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    phases=NO_SHRINK,
    suppress_health_check=list(HealthCheck),
)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(range(len(SEEDS))),
            st.lists(
                st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), min_size=1, max_size=4
            ),
        ),
        min_size=25,
        max_size=25,
    )
)
def test_mutated_archives_read_as_go_reads_them(
    go_reader: GoReader, batch: list[tuple[int, list[tuple[int, int]]]]
) -> None:
    """Any byte anywhere (headers, records, sparse maps, data): the same entries or refusal.
    Edits favour the first blocks, where the headers are."""
    archives = []
    for seed, edits in batch:
        data = bytearray(SEEDS[seed])
        for at, value in edits:
            data[at % min(len(data), 3072 if at % 2 else len(data))] = value
        archives.append(bytes(data))
    assert_as_go(go_reader, archives)


def test_seed_archives_read_as_go_reads_them(go_reader: GoReader) -> None:
    assert_as_go(go_reader, SEEDS)
    assert go_outcome(go_reader.read([SEEDS[4]])[0])[0][0][:3] == (b"var/log/lastlog", "file", 9000)


def test_gnu_tar_sparse_archives_read_as_go_reads_them(go_reader: GoReader, tmp_path: Path) -> None:
    """Real sparse archives, as GNU tar writes them in each form it has."""
    gnu_tar = shutil.which("tar")
    if (
        gnu_tar is None
        or b"GNU tar"
        not in subprocess.run([gnu_tar, "--version"], check=False, capture_output=True).stdout
    ):
        pytest.skip("GNU tar is not installed")
    sparse = tmp_path / "lastlog"
    with sparse.open("wb") as f:
        f.write(b"HEAD")
        f.seek((1 << 20) - 4)
        f.write(b"TAIL")
    forms = [["--format=gnu"]] + [
        ["--format=posix", f"--sparse-version={v}"] for v in ("0.0", "0.1", "1.0")
    ]
    archives = []
    for form in forms:
        out = tmp_path / "out.tar"
        subprocess.run(
            [gnu_tar, "--sparse", *form, "-C", str(tmp_path), "-cf", str(out), "lastlog"],
            check=True,
        )
        archives.append(out.read_bytes())
    assert_as_go(go_reader, archives)
    for data in archives:
        entries, ok = walker_outcome(data, True, 65536)
        assert ok and [e[:3] for e in entries] == [(b"lastlog", "file", 1 << 20)]


def test_an_empty_stream_is_the_one_refusal_go_does_not_make(go_reader: GoReader) -> None:
    assert go_outcome(go_reader.read([b""])[0]) == ([], True)
    assert walker_outcome(b"", True, 512) == ([], False)


# ---- names, as the applier cleans them ----

_PARTS = st.sampled_from(["a", "b", ".", "..", "", ".wh.x", "caf\u00e9"])


@settings(max_examples=60, deadline=None, derandomize=True, phases=NO_SHRINK)
@given(
    st.lists(
        st.tuples(st.booleans(), st.lists(_PARTS, min_size=1, max_size=6), st.booleans()),
        min_size=20,
        max_size=20,
    )
)
def test_names_are_cleaned_as_the_applier_cleans_them(
    go_reader: GoReader, names: list[tuple[bool, list[str], bool]]
) -> None:
    """Entry names with empty, "." and ".." components, a leading and a trailing "/": the
    walker's ``name`` is Go's filepath.Clean of it, made relative (main.go ``applied``), so
    "a//b", "a/./b" and "x/../a/b" are one path in the merged view, as on a runtime's disk."""
    archives = []
    for rooted, parts, trailing in names:
        name = ("/" if rooted else "") + "/".join(parts) + ("/" if trailing else "")
        archives.append(member(name.encode()[:100] or b"x", b"data") + END)
    assert_as_go(go_reader, archives)


def test_cleaned_names_match_known_values(go_reader: GoReader) -> None:
    cases = {
        b"a//b": b"a/b",
        b"./a/./b/": b"a/b",
        b"/x/../a": b"a",
        b"/../a": b"a",  # Clean drops ".." at the root
        b"../a": b"../a",  # above a relative name it stays (refused as unsafe elsewhere)
        b"a/..": b".",
    }
    archives = [member(n) + END for n in cases]
    for result, want in zip(go_reader.read(archives), cases.values(), strict=True):
        assert go_shape(result["entries"][0])[8] == want
    assert_as_go(go_reader, archives)
