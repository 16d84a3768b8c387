"""The C header loop (ocianalyze/_tarscan.c) must see exactly what the Python walker sees.

The Python walker is the definition; the C loop takes only headers it can read the same way
and leaves the rest to Python. These tests feed both walkers the same bytes, in the same
chunks, and compare everything observable: the entries (by repr, so int vs float shows), the
counts, and the error kind and message. The headers are built field by field, with every
spelling of a number that tar writers produce or a fuzzer could: plain and space-padded octal,
no terminator, base-256, signs, underscores, blanks, and checksums signed or wrong.
"""

from __future__ import annotations

import dataclasses
import io
import shutil
import sysconfig
import tarfile
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ocianalyze import record, tarwalk
from ocianalyze.tarwalk import TarError, TarWalker

needs_c = pytest.mark.skipif(not tarwalk.ACCELERATED, reason="C header loop not built")


def outcome(
    data: bytes, cuts: list[int], accelerated: bool, visit: bool = True, reused: bool = False
) -> tuple:
    """``reused``: each piece is fed as a view of one buffer, overwritten after each feed, as
    the pulled zstd decoder hands its ring over: nothing may be kept from it."""
    seen: list[tarwalk.TarEntry] = []
    walker = TarWalker(seen.extend if visit else None, accelerated=accelerated)
    pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    ring = bytearray(max(map(len, pieces), default=0))
    try:
        for piece in pieces:
            if not reused:
                walker.feed(piece)
                continue
            ring[: len(piece)] = piece
            walker.feed(memoryview(ring)[: len(piece)])
            ring[:] = b"\xa5" * len(ring)  # a header kept by reference would now be garbage
        stats = walker.finish()
    except TarError as exc:
        return ("error", exc.kind, str(exc), repr(seen), repr(record.astuple(walker.stats)))
    return ("ok", repr(seen), repr(record.astuple(stats)))  # repr: NaN mtimes compare


def assert_same(data: bytes, cuts: list[int] | None = None) -> tuple:
    cuts = sorted({c for c in (cuts or []) if 0 < c < len(data)})
    for visit in (True, False):
        pure = outcome(data, cuts, accelerated=False, visit=visit)
        fast = outcome(data, cuts, accelerated=True, visit=visit)
        assert fast == pure
        for accelerated in (False, True):
            assert outcome(data, cuts, accelerated, visit, reused=True) == pure
    return pure


def _octal(value: int, width: int) -> bytes:
    return b"%0*o\0" % (width - 1, value)


NUMBER_SPELLINGS = [
    _octal,  # tarfile, Go: zero-padded, NUL
    lambda v, w: (b"%*o " % (w - 2, v)) + b"\0",  # old tar: space-padded, space, NUL
    lambda v, w: b"%0*o" % (w, v % (8**w)),  # no terminator at all
    lambda v, w: (b"%o" % v)[: w - 1].ljust(w, b"\0"),  # short, NUL-padded
    lambda v, w: bytes([0x80]) + v.to_bytes(w - 1, "big"),  # GNU base-256
    lambda v, w: (b"+%o" % v)[:w].ljust(w, b"\0"),  # a sign int() accepts
    lambda v, w: (b"0_%o" % v)[:w].ljust(w, b"\0"),  # an underscore int() accepts
    lambda v, w: (b"\t%o" % v)[:w].ljust(w, b"\0"),  # other whitespace
    lambda v, w: b" " * (w - 1) + b"\0",  # blank
    lambda v, w: b"\0" * w,  # empty
    lambda v, w: (b"%o 1" % v)[:w].ljust(w, b"\0"),  # digits after a space
    lambda v, w: (b"9%o" % v)[:w].ljust(w, b"\0"),  # not octal
    lambda v, w: b"\0\0" + (b"%o" % v)[: w - 2].ljust(w - 2, b"\0"),  # NULs before the digits
    lambda v, w: (b"%o \0x" % v)[:w].ljust(w, b"\0"),  # text after a space and a NUL
    lambda v, w: (b"%o\0\0 " % v)[:w].ljust(w, b" "),  # NULs and spaces after the digits
]


@dataclasses.dataclass
class Header:
    name: bytes = b"file"
    prefix: bytes = b""
    typeflag: bytes = b"0"
    link: bytes = b""
    magic: bytes = b"ustar\x0000"
    fields: dict[str, bytes] = dataclasses.field(default_factory=dict)
    checksum: str = "unsigned"  # or "signed", "wrong", "spaces"

    def block(self) -> bytes:
        b = bytearray(512)
        b[0:100] = self.name[:100].ljust(100, b"\0")
        for key, (off, width, default) in _NUMBERS.items():
            b[off : off + width] = self.fields.get(key, _octal(default, width))[:width]
        b[156:157] = self.typeflag
        b[157:257] = self.link[:100].ljust(100, b"\0")
        b[257:265] = self.magic
        b[345:500] = self.prefix[:155].ljust(155, b"\0")
        b[148:156] = b" " * 8
        total = sum(b)
        if self.checksum == "signed":
            total -= 256 * sum(1 for x in b if x > 127)
        if self.checksum == "wrong":
            total += 1
        b[148:156] = (b"%06o\0 " if self.checksum != "spaces" else b"%7o\0") % total
        assert len(b) == 512
        return bytes(b)


_NUMBERS = {"mode": (100, 8, 0o644), "uid": (108, 8, 0), "gid": (116, 8, 0)}
_NUMBERS |= {"size": (124, 12, 0), "mtime": (136, 12, 1_700_000_000)}


def member(h: Header, size: int) -> bytes:
    data = bytes(range(256)) * (size // 256 + 1)
    return h.block() + data[:size] + b"\0" * (-size % 512)


names = st.sampled_from(
    [
        b"file",
        b"./file",
        b"/abs/file",
        b"dir/",
        b"./",
        b"a/.wh.gone",
        b"a/.wh..wh..opq",
        b".wh.top",
        b"caf\xc3\xa9",
        b"bad\xff\xfename",
        b"../up",
        b"x" * 100,
        b"",
    ]
)
prefixes = st.sampled_from([b"", b"usr/lib", b"./pre/", b"\xe2\x82"])
typeflags = st.sampled_from([b"0", b"\0", b"1", b"2", b"3", b"4", b"5", b"6", b"7", b"S", b"V"])
magics = st.sampled_from([b"ustar\x0000", b"ustar  \0", b"\0" * 8])


@st.composite
def headers(draw: st.DrawFn) -> tuple[Header, int]:
    size = draw(st.sampled_from([0, 1, 511, 512, 513, 3000]))
    odd = draw(st.sampled_from([None, *_NUMBERS]))  # at most one field spelled oddly
    fields = {}
    for key, (_, width, default) in _NUMBERS.items():
        value = size if key == "size" else draw(st.sampled_from([default, 0, 0o7777, 2**21]))
        spell = draw(st.sampled_from(NUMBER_SPELLINGS)) if key == odd else _octal
        fields[key] = spell(value, width)
    h = Header(
        name=draw(names),
        prefix=draw(prefixes),
        typeflag=draw(typeflags),
        link=draw(st.sampled_from([b"", b"target", b"../../etc", b"/abs"])),
        magic=draw(magics),
        fields=fields,
        checksum=draw(st.sampled_from(["unsigned"] * 4 + ["signed", "wrong", "spaces"])),
    )
    return h, size


def pax_record(key: bytes, value: bytes) -> bytes:
    """A well-formed record: its length counts its own digits."""
    body = b" " + key + b"=" + value + b"\n"
    n = len(body) + 1
    while len(b"%d" % n) + len(body) != n:
        n += 1
    return b"%d" % n + body


PAX_RECORDS = [
    pax_record(key, value)
    for key, value in [
        (b"path", b"usr/lib/" + b"long" * 40),
        (b"path", b"caf\xc3\xa9/./"),
        (b"path", b"bad\xffname/"),
        (b"path", b""),
        (b"linkpath", b"../../etc/passwd"),
        (b"linkpath", b""),
        (b"mtime", b"1700000000.123456789"),
        (b"mtime", b"1_7.5"),
        (b"mtime", b"nan"),
        (b"mtime", b"abc"),
        (b"uid", b"4294967296"),
        (b"uid", b"0012"),
        (b"uid", b" 7"),
        (b"gid", b"+5"),
        (b"gid", b"\xd9\xa3"),  # an Arabic-Indic digit: int() reads it
        (b"size", b"1_0"),
        (b"atime", b"1.5"),
        (b"SCHILY.xattr.user.x", b"\x00\xff"),
        # forms the C loop leaves to Python: Go's time syntax, empty values, sparse records
        (b"mtime", b"-1.5"),
        (b"mtime", b"5."),
        (b"mtime", b"+7"),
        (b"mtime", b""),
        (b"atime", b"nan"),
        (b"ctime", b"-0.000000001"),
        (b"size", b""),
        (b"uname", b"a\x00b"),
        (b"GNU.sparse.major", b"1"),
        (b"GNU.sparse.map", b"0,1"),
        (b"GNU.sparse.name", b"real"),
    ]
]
MALFORMED_RECORDS = [
    b"5 a=\n",  # too short for itself
    b"99 path=x\n",  # longer than the header
    b"12 path=abcd",  # no newline
    b"0 \n",
    b"9 noequal\n",
    b" 9 path=x\n",
]


@st.composite
def pax_headers(draw: st.DrawFn) -> tuple[bytes, int | None]:
    """A PAX header block and its records, and the size it sets, if it sets one plainly."""
    records = draw(st.lists(st.sampled_from(PAX_RECORDS), max_size=4))
    if draw(st.integers(0, 3)) == 0:
        records.insert(draw(st.integers(0, len(records))), draw(st.sampled_from(MALFORMED_RECORDS)))
    size = draw(st.sampled_from([None, 0, 100, 1024]))
    if size is not None:
        records.append(pax_record(b"size", b"%d" % size))
    data = b"".join(records)
    h = Header(name=b"PaxHeaders/x", typeflag=b"x", fields={"size": _octal(len(data), 12)})
    return h.block() + data + b"\0" * (-len(data) % 512), size


@needs_c
@settings(max_examples=400, deadline=None, derandomize=True)
@given(
    st.lists(st.tuples(pax_headers(), headers()), min_size=1, max_size=5),
    st.lists(st.integers(0, 20_000), max_size=5),
)
def test_pax_headers_read_the_same(
    members: list[tuple[tuple[bytes, int | None], tuple[Header, int]]], cuts: list[int]
) -> None:
    data = b"".join(
        pax + member(h, size if pax_size is None else pax_size)
        for (pax, pax_size), (h, size) in members
    )
    assert_same(data + b"\0" * 1024, cuts)


@needs_c
@settings(max_examples=400, deadline=None, derandomize=True)
@given(
    st.lists(headers(), min_size=1, max_size=6),
    st.sampled_from([b"\0" * 1024, b"\0" * 512, b"", b"\0" * 2048]),
    st.lists(st.integers(0, 20_000), max_size=5),
)
def test_crafted_headers_read_the_same(
    members: list[tuple[Header, int]], end: bytes, cuts: list[int]
) -> None:
    data = b"".join(member(h, size) for h, size in members) + end
    assert_same(data, cuts)


@needs_c
@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    st.sampled_from([tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT]),
    st.lists(
        st.tuples(
            st.text("abé/._-x", min_size=1, max_size=140),
            st.sampled_from([tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE]),
            st.integers(0, 2000),
        ),
        min_size=1,
        max_size=8,
    ),
    st.lists(st.integers(0, 30_000), max_size=4),
    st.integers(0, 5),
)
def test_tarfile_archives_read_the_same(
    fmt: int, members: list[tuple[str, bytes, int]], cuts: list[int], flips: int
) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for name, kind, size in members:
            info = tarfile.TarInfo(name)
            big = fmt != tarfile.USTAR_FORMAT and size % 3 == 0  # only GNU and PAX hold these
            info.type, info.mtime, info.uid = kind, 2**34 if big else 1000, 2**22 if big else 7
            info.linkname = "some/target" if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
            info.size = size if kind == tarfile.REGTYPE else 0
            try:  # ustar cannot hold long names or large numbers
                tf.addfile(info, io.BytesIO(b"z" * info.size))
            except ValueError:
                assume(False)
    data = bytearray(buf.getvalue())
    for i in range(flips):  # corrupt a few header bytes: both walkers must fail alike
        at = (i * 7919 + len(data) // 3) % max(1, min(len(data), 2048))
        data[at] ^= 0x41
    assert_same(bytes(data), cuts)


@needs_c
def test_real_layers_read_the_same(tmp_path: Path) -> None:
    """A few hundred real files: the C loop's counts and entries match, one byte at a time
    across a header boundary and in large pieces."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        tf.add(Path(tarfile.__file__).parent / "json", arcname="usr/lib/python/json")
        tf.add(Path(tarfile.__file__), arcname="./usr/lib/python/tarfile.py")
    data = buf.getvalue()
    result = assert_same(data, [*range(0, len(data), 65536), 1000, 1001, 1002])
    assert result[0] == "ok"


def test_the_c_loop_is_built_where_a_compiler_is() -> None:
    """An optional extension fails to build silently; make that visible where it should build."""
    headers = Path(sysconfig.get_paths()["include"], "Python.h")
    if shutil.which("cc") is None or not headers.exists():
        pytest.skip("no C compiler or Python headers here")
    assert tarwalk.ACCELERATED


@needs_c
def test_oversized_pax_header_is_refused_alike() -> None:
    records = pax_record(b"comment", b"x" * (tarwalk.MAX_SPECIAL + 1))
    pax = Header(name=b"PaxHeaders/x", typeflag=b"x", fields={"size": _octal(len(records), 12)})
    data = pax.block() + records + b"\0" * (-len(records) % 512) + member(Header(), 0)
    result = assert_same(data + b"\0" * 1024, [len(data) + 1024])
    assert result[:2] == ("error", "not_a_tar")


def _pax_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for i, name in enumerate(["d/", "d/" + "long" * 30, "d/café", "d/l", "d/h"]):
            info = tarfile.TarInfo(name)
            info.type = [tarfile.DIRTYPE, tarfile.REGTYPE, tarfile.REGTYPE][min(i, 2)]
            if name == "d/l":
                info.type, info.linkname = tarfile.SYMTYPE, "../" * 3 + "x"
            if name == "d/h":
                info.type, info.linkname = tarfile.LNKTYPE, "d/café"
            info.mtime, info.uid = 1_700_000_000 + i, 2**22 if i == 1 else i
            info.size = 700 * i if info.type == tarfile.REGTYPE else 0
            tf.addfile(info, io.BytesIO(b"q" * info.size))
    return buf.getvalue()


PAX_TAR = _pax_tar()


@needs_c
@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    st.lists(st.tuples(st.integers(0, len(PAX_TAR) - 1), st.integers(0, 255)), max_size=6),
    st.lists(st.integers(0, len(PAX_TAR)), max_size=3),
)
def test_damaged_pax_archives_read_the_same(edits: list[tuple[int, int]], cuts: list[int]) -> None:
    """Any byte anywhere (PAX records, fields, checksums, data): same entries, same errors."""
    data = bytearray(PAX_TAR)
    for at, value in edits:
        data[at] = value
    assert_same(bytes(data), cuts)
