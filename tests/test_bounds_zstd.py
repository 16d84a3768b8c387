"""zstd windows: frames may declare up to 2^27 bytes (containerd's default, `zstd --long=27`);
a larger one is refused with limit_exceeded before the decoder allocates it."""

from __future__ import annotations

import io
import random
import sys
from pathlib import Path

import pytest

from ocianalyze.compression import ZSTD_WINDOW_MAX, zstd_window
from ocianalyze.errors import Kind
from ocianalyze.walker import scan

from .builders import build_layout, tar_bytes
from .conftest import run_cli
from .test_bounds_support import zstd_zero_layer

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

ZSTD_MT = "application/vnd.oci.image.layer.v1.tar+zstd"
TAR = tar_bytes([("etc/motd", b"hello\n")])


def _frame(data: bytes, window_log: int) -> bytes:
    """One frame of unknown content size (streamed), so it declares its window."""
    comp = zstd.ZstdCompressor(options={zstd.CompressionParameter.window_log: window_log})
    return comp.compress(data) + comp.flush()


def test_the_limit_is_containerds_default() -> None:
    assert ZSTD_WINDOW_MAX == 128 << 20


@pytest.mark.parametrize("log", [10, 20, 27, 28, 31])
def test_window_from_the_window_descriptor(log: int) -> None:
    assert zstd_window(_frame(TAR, log)) == 1 << log


def test_window_of_a_single_segment_frame_is_its_content_size() -> None:
    frame = zstd.compress(TAR)  # size known up front: one segment, no window descriptor
    assert frame[4] & 0x20
    assert zstd_window(frame) == len(TAR)


@pytest.mark.parametrize("log", [28, 30])
@pytest.mark.parametrize("second", [False, True])
def test_a_window_past_the_limit_is_refused_by_name(log: int, second: bool) -> None:
    data = _frame(TAR[:1024], 20) + _frame(TAR[1024:], log) if second else _frame(TAR, log)
    result = scan(io.BytesIO(data), layer=True)
    assert [k for k, *_ in result.findings] == [Kind.LIMIT_EXCEEDED]
    message = result.findings[0][1]
    assert str(1 << log) in message and str(ZSTD_WINDOW_MAX) in message
    assert result.diff_id is None


def test_a_window_at_the_limit_is_read() -> None:
    data = _frame(TAR, 27)
    result = scan(io.BytesIO(data), layer=True)
    assert result.findings == ()
    assert result.uncompressed_size == len(TAR)


def test_cli_long_27_layer_verifies_within_64_mib_plus_the_window(tmp_path: Path) -> None:
    """Handed case g17: a `zstd --long=27` layer, more zeros than its window, so the decoder
    fills all of it."""
    from .test_bounds_support import run_rss

    blob, diff_id = zstd_zero_layer("zeros", 192, 27)
    assert zstd_window(blob) == 1 << 27
    build_layout(tmp_path / "l", [blob], diff_ids=[diff_id], media_type=ZSTD_MT)
    for jobs in ("0", "1"):
        code, rss = run_rss("verify", "--quiet", "--jobs", jobs, str(tmp_path / "l"))
        assert code == 0
        assert rss < 64 + 128, f"peak RSS {rss:.1f} MiB"
    run = run_cli("verify", "--format", "json", str(tmp_path / "l"))
    layer = run.json()["images"][0]["layers"][0]
    assert (layer["compression"], layer["diff_id"]) == ("zstd", diff_id)
    assert layer["uncompressed_size"] == 192 * 2**20 + 512 + 1024


def test_cli_long_28_layer_is_limit_exceeded(tmp_path: Path) -> None:
    build_layout(
        tmp_path / "l", [_frame(TAR, 28)], diff_ids=["sha256:" + "0" * 64], media_type=ZSTD_MT
    )
    run = run_cli("verify", "--format", "json", str(tmp_path / "l"))
    assert run.code == 1
    kinds = {p["kind"] for p in run.json()["problems"]}
    assert kinds == {"limit_exceeded"}


class _Trickle(io.BytesIO):
    """A pipe that hands out one byte per read: frame headers straddle reads."""

    def read(self, n: int | None = -1, /) -> bytes:
        return super().read(1 if n is None or n != 0 else 0)


def test_a_second_frames_window_is_seen_whatever_the_reads() -> None:
    first = _frame(tar_bytes([("random", random.Random(7).randbytes(4096))]), 20)
    assert len(first) > 4096  # past the first read, which is at least one tar block
    result = scan(_Trickle(first + _frame(TAR, 28)), layer=True)
    assert [k for k, *_ in result.findings] == [Kind.LIMIT_EXCEEDED]
