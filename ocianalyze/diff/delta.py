"""The transfer delta: which blobs of NEW a site lacks when it holds some digests already.

Blobs are matched by digest alone (a registry and containerd's content store do the same): a
layer recompressed under another digest must cross again, even with the same diff_id.
"""

from __future__ import annotations

import errno
import io
import os
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import OciError
from ..model import Descriptor, ExportModel
from .result import Delta, MissingBlob

# "algo:hex" as the OCI spec's digest grammar allows, or a bare sha256 hex (`ls blobs/sha256`)
_LINE = re.compile(r"(?:([a-z0-9]+(?:[+._-][a-z0-9]+)*):)?([a-fA-F0-9]{32,})")
# the registered algorithms' lengths (image-spec descriptor.md "Registered algorithms")
_HEX_LENGTH = {"sha256": 64, "sha512": 128}
_TEXT = re.compile(rb"[\t\n\r\x20-\x7e]*")
_SNIFF = 4096
# bytes in one line of a list: a digest and a sha256sum file name fit; a longer line is no
# digest, and reading it whole would let one line of a huge file take all memory
_MAX_LINE = 4096


def descriptors(model: ExportModel) -> Iterator[Descriptor]:
    """Every blob the model references: indexes, manifests, configs, layers (repeats kept)."""
    for ref in model.indexes:
        yield ref.descriptor
    for image in model.images:
        if image.manifest_descriptor is not None:
            yield image.manifest_descriptor
        yield image.config_descriptor
        yield from image.layers


def held_by(model: ExportModel) -> set[str]:
    return {str(d.digest) for d in descriptors(model)}


def looks_like_list(head: bytes) -> bool:
    """A digest list is plain ASCII text; an export (a tar, compressed or not) is not."""
    return _TEXT.fullmatch(head[:_SNIFF]) is not None


def parse_list(lines: Iterable[str], where: str) -> set[str]:
    """Digests, one a line: ``sha256:<hex>``, or a bare sha256 hex as ``ls blobs/sha256``
    prints it; a line may go on after whitespace (``sha256sum`` output, a size), ``#`` starts
    a comment, blank lines are skipped. A sha256 has 64 hex digits, a sha512 128 (a cut line
    is no digest). Raises OciError naming the first line that is not."""
    held: set[str] = set()
    for number, raw in enumerate(lines, 1):
        text = raw.split("#", 1)[0].strip()
        if not text:
            continue
        m = _LINE.fullmatch(text.split()[0])
        algorithm = (m.group(1) or "sha256") if m is not None else ""
        length = _HEX_LENGTH.get(algorithm)
        if m is None or (length is not None and len(m.group(2)) != length):
            raise OciError(where, f"line {number}: not a digest")
        held.add(f"{algorithm}:{m.group(2).lower()}")
    return held


def _lines(file: BinaryIO, where: str) -> Iterator[str]:
    """The lines of a list, each at most _MAX_LINE bytes (OciError naming the first longer
    one); bytes that are not ASCII become U+FFFD, so they fail as digests, never decoding."""
    number = 0
    while line := file.readline(_MAX_LINE + 1):
        number += 1
        if len(line) > _MAX_LINE:
            raise OciError(where, f"line {number}: not a digest (over {_MAX_LINE} bytes)")
        yield line.decode("ascii", "replace")


def delta(new: ExportModel, held: set[str]) -> Delta:
    """What NEW holds that ``held`` lacks, largest first (then by digest)."""
    blobs: dict[str, Descriptor] = {}
    for d in descriptors(new):
        blobs.setdefault(str(d.digest), d)
    missing = sorted(
        (MissingBlob(k, d.size, d.media_type) for k, d in blobs.items() if k not in held),
        key=lambda b: (-b.size, b.digest),
    )
    return Delta(len(held), tuple(missing), sum(d.size for d in blobs.values()), len(blobs))


def read_held(path: str, stdin: BinaryIO | None = None) -> set[str]:
    """The digests ``--have PATH`` names: a digest list (plain text, see parse_list) or an
    export of any format, whose metadata alone is read (its blobs are what the site holds).
    ``-`` is standard input (``stdin`` overrides it, for tests), a list or an export alike.
    Raises OciError (unreadable export, bad list line) or OSError."""
    if path == "-":
        return _read_held_stdin(stdin)
    file = Path(path)
    if file.is_file():
        with file.open("rb") as f:
            head = f.read(_SNIFF)
        if looks_like_list(head):
            with file.open("rb") as f:
                return parse_list(_lines(f, path), path)
    from ..sources import open_export
    from ..verify import inspect

    return held_by(inspect(open_export(path)).model)


class _Rejoined(io.RawIOBase):
    """Standard input again, its first bytes (read to sniff it) put back in front."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head, self._rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._head[: len(view)] if self._head else self._rest.read(len(view))
        self._head = self._head[len(data) :]
        view[: len(data)] = data
        return len(data)


def _read_held_stdin(stdin: BinaryIO | None) -> set[str]:
    """``--have -``: a digest list or an export on standard input, told apart as for a file."""
    from ..errors import Unreadable

    if stdin is None and sys.stdin is None:  # started with standard input closed
        raise Unreadable("-", f"standard input is closed ({os.strerror(errno.EBADF)})")
    raw = stdin if stdin is not None else sys.stdin.buffer
    try:
        head = raw.read(_SNIFF)
    except (OSError, ValueError) as exc:  # standard input closed
        raise Unreadable("-", f"standard input cannot be read ({exc})") from None
    rejoined = io.BufferedReader(_Rejoined(head, raw))
    if looks_like_list(head):  # nothing at all is an empty list, as an empty file is
        return parse_list(_lines(rejoined, "-"), "-")
    from ..sources import open_export
    from ..verify import inspect

    return held_by(inspect(open_export("-", stdin=rejoined)).model)
