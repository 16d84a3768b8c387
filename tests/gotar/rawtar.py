"""Raw tar building blocks for the tar tests: headers spelled field by field, PAX and GNU
special members, and the GNU sparse forms (old GNU 'S' with extension blocks, PAX 0.0, 0.1,
1.0), written from the GNU tar manual's description, not with the code under test."""

from __future__ import annotations

BLOCK = 512
MTIME = 1_700_000_000
USTAR = b"ustar\x0000"
GNU = b"ustar  \x00"
END = b"\0" * 1024
Number = int | bytes  # an int is written as zero-padded octal; bytes as given


def octal(value: int, width: int) -> bytes:
    return b"%0*o\0" % (width - 1, value)


def pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % BLOCK)


def _num(value: Number, width: int) -> bytes:
    return (octal(value, width) if isinstance(value, int) else value)[:width].ljust(width, b"\0")


def header(
    name: bytes = b"file",
    typeflag: bytes = b"0",
    size: Number = 0,
    *,
    mode: Number = 0o644,
    uid: Number = 0,
    gid: Number = 0,
    mtime: Number = MTIME,
    link: bytes = b"",
    magic: bytes = USTAR,
    prefix: bytes = b"",
    checksum: str = "unsigned",
    raw: dict[int, bytes] | None = None,
) -> bytes:
    """One 512-byte header. checksum: "unsigned", "signed", "wrong" or "spaces" (a spelling
    with leading spaces); raw: bytes written at offsets before the checksum is computed."""
    b = bytearray(BLOCK)
    b[0:100] = name[:100].ljust(100, b"\0")
    b[100:108] = _num(mode, 8)
    b[108:116] = _num(uid, 8)
    b[116:124] = _num(gid, 8)
    b[124:136] = _num(size, 12)
    b[136:148] = _num(mtime, 12)
    b[156:157] = typeflag
    b[157:257] = link[:100].ljust(100, b"\0")
    b[257:265] = magic
    if magic[:6] == b"ustar\0" or magic == GNU:
        b[329:345] = octal(0, 8) * 2  # devmajor, devminor
    if prefix:
        b[345:500] = prefix[:155].ljust(155, b"\0")
    for at, value in (raw or {}).items():
        b[at : at + len(value)] = value
    b[148:156] = b" " * 8
    total = sum(b)
    if checksum == "signed":
        total -= 256 * sum(1 for x in b if x > 127)
    elif checksum == "wrong":
        total += 1
    b[148:156] = (b"%7o\0" if checksum == "spaces" else b"%06o\0 ") % total
    return bytes(b)


def member(name: bytes, data: bytes = b"", typeflag: bytes = b"0", **kw: object) -> bytes:
    return header(name, typeflag, len(data), **kw) + pad(data)  # type: ignore[arg-type]


def pax_record(key: bytes, value: bytes) -> bytes:
    """A well-formed record: its length counts its own digits."""
    body = b" " + key + b"=" + value + b"\n"
    n = len(body) + 1
    while len(b"%d" % n) + len(body) != n:
        n += 1
    return b"%d" % n + body


def pax(*records: tuple[bytes, bytes], typeflag: bytes = b"x", raw: bytes = b"") -> bytes:
    """A PAX extended header ('x', or 'g' for a global one) holding the records (and raw
    record bytes after them)."""
    body = b"".join(pax_record(k, v) for k, v in records) + raw
    return member(b"PaxHeaders/x", body, typeflag)


def long_name(name: bytes, typeflag: bytes = b"L") -> bytes:
    """A GNU long name ('L') or long link ('K') record: the name and a NUL."""
    return member(b"././@LongLink", name + b"\0", typeflag, magic=GNU)


def regions_data(regions: list[tuple[int, int]]) -> bytes:
    """The bytes a sparse file stores for its data regions: each region's bytes in turn."""
    return b"".join(
        bytes((offset + i) % 251 + 1 for i in range(length)) for offset, length in regions
    )


def _gnu_slots(regions: list[tuple[int, int]], slots: int) -> bytes:
    area = b"".join(octal(o, 12) + octal(n, 12) for o, n in regions[:slots])
    return area.ljust(24 * slots, b"\0")


def old_gnu_sparse(
    name: bytes, real_size: int, regions: list[tuple[int, int]], data: bytes | None = None
) -> bytes:
    """An old GNU sparse member: typeflag 'S', up to 4 regions in the header, 21 more per
    extension block after it; the size field counts the stored data only."""
    data = regions_data(regions) if data is None else data
    head, rest = regions[:4], regions[4:]
    raw = {386: _gnu_slots(head, 4), 482: b"\1" if rest else b"\0", 483: octal(real_size, 12)}
    out = header(name, b"S", len(data), magic=GNU, raw=raw)
    while rest:
        chunk, rest = rest[:21], rest[21:]
        out += _gnu_slots(chunk, 21) + (b"\1" if rest else b"\0") + b"\0" * 7
    return out + pad(data)


def pax_sparse(
    version: str,
    name: bytes,
    real_size: int,
    regions: list[tuple[int, int]],
    data: bytes | None = None,
    placeholder: bytes = b"GNUSparseFile.0/file",
) -> bytes:
    """A GNU sparse member in PAX form: version "0.0" (offset/numbytes records), "0.1" (one
    map record) or "1.0" (the map in the data, decimal lines padded to a block)."""
    data = regions_data(regions) if data is None else data
    if version == "0.0":
        records = [
            (b"GNU.sparse.size", b"%d" % real_size),
            (b"GNU.sparse.numblocks", b"%d" % len(regions)),
        ]
        for o, n in regions:
            records += [(b"GNU.sparse.offset", b"%d" % o), (b"GNU.sparse.numbytes", b"%d" % n)]
        records.append((b"GNU.sparse.name", name))
    elif version == "0.1":
        flat = b",".join(b"%d,%d" % r for r in regions)
        records = [
            (b"GNU.sparse.size", b"%d" % real_size),
            (b"GNU.sparse.numblocks", b"%d" % len(regions)),
            (b"GNU.sparse.map", flat),
            (b"GNU.sparse.name", name),
        ]
    else:
        records = [
            (b"GNU.sparse.major", b"1"),
            (b"GNU.sparse.minor", b"0"),
            (b"GNU.sparse.name", name),
            (b"GNU.sparse.realsize", b"%d" % real_size),
        ]
        smap = b"%d\n" % len(regions) + b"".join(b"%d\n%d\n" % r for r in regions)
        data = pad(smap) + data
    return pax(*records) + member(placeholder, data)
