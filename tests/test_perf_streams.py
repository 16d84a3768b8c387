"""Archives compressed as a whole: the reader that serves decoded bytes without copying them
gives exactly the decoded stream, whatever the read sizes, and `verify -` on such an archive
finds what it finds on the same export as a directory."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ocianalyze.compression import DIRECT_READ, OUT_CAP, DecompressingReader
from ocianalyze.mediatypes import Compression

from .builders import Trickle
from .exports import Image, gz, layer_tar, legacy, oci, to_dir, to_tar, zstd

SCRIPT = Path(sys.executable).with_name("ocianalyze")


def _payload(size: int) -> bytes:
    """Compressible, but not trivially: words of random lengths."""
    rng = random.Random(size)
    words = [bytes(rng.randrange(97, 123) for _ in range(rng.randrange(1, 12))) for _ in range(500)]
    out = bytearray()
    while len(out) < size:
        out += rng.choice(words) + b" "
    return bytes(out[:size])


def _compress(how: Compression, data: bytes) -> bytes:
    if how is Compression.GZIP:
        # two members back to back, as `cat a.gz b.gz` makes
        return gz(data[: len(data) // 3]) + gz(data[len(data) // 3 :])
    return zstd(data)


@pytest.mark.parametrize("how", [Compression.GZIP, Compression.ZSTD])
@pytest.mark.parametrize("pattern", ["headers", "large", "mixed", "whole"])
def test_every_read_pattern_gives_the_decoded_bytes(how: Compression, pattern: str) -> None:
    plain = _payload(3 * OUT_CAP + 12345)
    reader = DecompressingReader(Trickle(_compress(how, plain), 40_000), how)
    rng = random.Random(pattern)
    sizes = {
        "headers": lambda: 512,
        "large": lambda: OUT_CAP,
        "mixed": lambda: rng.choice([1, 512, DIRECT_READ - 1, DIRECT_READ, 300_000, 4 * OUT_CAP]),
    }
    if pattern == "whole":
        got = reader.read()
    else:
        parts = []
        while piece := reader.read(n := sizes[pattern]()):
            assert 0 < len(piece) <= n
            parts.append(piece)
        got = b"".join(parts)
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(plain).hexdigest()
    assert reader.read(512) == b"" and reader.read(OUT_CAP) == b""


def test_large_reads_are_the_decoder_s_pieces_not_slices() -> None:
    """After the piece a header read began is used up, every large read returns an object
    the decoder made (no slice, no join): each byte is copied only by the decoder."""
    plain = _payload(5 * OUT_CAP)
    reader = DecompressingReader(Trickle(gzip.compress(plain, 1), 1 << 20), Compression.GZIP)
    made: list[bytes] = []
    feed = reader._decoder.feed

    def spy(data: bytes) -> Iterator[bytes]:
        for piece in feed(data):
            made.append(piece)
            yield piece

    reader._decoder.feed = spy  # type: ignore[method-assign]
    assert reader.read(512) == plain[:512]
    rest = reader.read(OUT_CAP)  # the rest of the header's piece: one copy, a small one
    assert rest == plain[512 : 512 + len(rest)] and len(rest) == DIRECT_READ - 512
    seen, served = 512 + len(rest), []
    while piece := reader.read(300_000):
        assert piece == plain[seen : seen + len(piece)]
        seen += len(piece)
        served.append(piece)
    assert seen == len(plain) and len(served) > 5
    assert all(any(piece is m for m in made) for piece in served)


def _images() -> list[Image]:
    files = {f"usr/share/f{i}": _payload(50_000 + 7919 * i) for i in range(40)}
    files["etc/small"] = b"tiny\n"
    return [Image([layer_tar(files), layer_tar({"etc/hostname": b"box\n"})], tag="streams:1")]


def _verify_json(target: str, stdin: bytes | None = None) -> tuple[int, dict[str, object]]:
    proc = subprocess.run(
        [str(SCRIPT), "verify", "--quiet", "--format", "json", target],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )
    return proc.returncode, json.loads(proc.stdout)


def _facts(doc: dict[str, object]) -> dict[str, object]:
    """What the verdict says about the export, less where and how it was stored."""
    return {k: v for k, v in doc.items() if k != "source"}


@pytest.mark.parametrize("kind", ["oci", "legacy"])
@pytest.mark.parametrize("how", ["gzip", "zstd", "plain"])
def test_stdin_archive_verifies_as_the_directory(tmp_path: Path, kind: str, how: str) -> None:
    written = oci(_images()) if kind == "oci" else legacy(_images())
    tar = to_tar(written)
    whole = {"gzip": gz, "zstd": zstd, "plain": lambda b: b}[how](tar)
    code_dir, doc_dir = _verify_json(str(to_dir(written, tmp_path / "export")))
    code_stream, doc_stream = _verify_json("-", whole)
    assert code_dir == code_stream == 0
    assert _facts(doc_dir) == _facts(doc_stream)
    layers = [hashlib.sha256(written.files[name]).hexdigest() for name in written.layer_names]
    assert all(layer in json.dumps(doc_stream) for layer in layers)


def test_a_truncated_archive_is_still_exit_2(tmp_path: Path) -> None:
    whole = gz(to_tar(oci(_images())))
    proc = subprocess.run(
        [str(SCRIPT), "verify", "--quiet", "-"],
        input=whole[: len(whole) * 2 // 3],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count(b"\n") == 1 and os.fsencode("ocianalyze:") in proc.stderr
