"""Large layers of zeros built fast (repeated compressed members), with their diff_ids, and the
peak RSS of an ocianalyze run measured in a subprocess of its own."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import zlib

MIB = 1 << 20

# Linux carries a parent's peak RSS over to a child it forks, so the child is started from a
# small intermediate Python process and only its own peak is reported.
_MEASURE = (
    "import os, subprocess, sys\n"
    "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
    "_, status, usage = os.wait4(p.pid, 0)\n"
    "print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)\n"
)


def run_rss(*args: str, timeout: float = 60) -> tuple[int, float]:
    """Run ``ocianalyze ARGS``: its exit status and its own peak RSS in MiB."""
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, sys.executable, "-m", "ocianalyze", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=timeout,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": ""},
    ).stdout.split()
    return int(out[0]), int(out[1]) / 1024


def zero_file_tar_parts(name: str, size: int) -> tuple[bytes, bytes]:
    """The header and the trailer (padding and end-of-archive blocks) of a tar holding one
    regular file ``name`` of ``size`` zero bytes; the zeros go between them."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime = size, 1_700_000_000
    header = info.tobuf(format=tarfile.USTAR_FORMAT)
    return header, bytes(-size % 512) + bytes(1024)


def gzip_zero_layer(name: str, mib: int) -> tuple[bytes, str]:
    """A gzip layer (several members, as Go's reader accepts) holding ``name``: ``mib`` MiB of
    zeros, and its diff_id from hashlib over the same uncompressed bytes."""
    header, trailer = zero_file_tar_parts(name, mib * MIB)
    block = bytes(MIB)
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"".join(comp.compress(block) for _ in range(16)) + comp.flush()  # 16 MiB each
    assert mib % 16 == 0
    h = hashlib.sha256(header)
    for _ in range(mib):
        h.update(block)
    h.update(trailer)
    blob = _gzip(header) + zeros * (mib // 16) + _gzip(trailer)
    return blob, "sha256:" + h.hexdigest()


def _gzip(data: bytes) -> bytes:
    comp = zlib.compressobj(6, zlib.DEFLATED, 31)
    return comp.compress(data) + comp.flush()


def zstd_zero_layer(name: str, mib: int, window_log: int) -> tuple[bytes, str]:
    """A zstd layer of one frame with a ``2**window_log``-byte window (as `zstd --long=N` from
    a pipe: no content size, so the window is declared) holding ``name``: ``mib`` MiB of
    zeros; and its diff_id from hashlib."""
    zstd = _zstd_module()
    header, trailer = zero_file_tar_parts(name, mib * MIB)
    comp = zstd.ZstdCompressor(options={zstd.CompressionParameter.window_log: window_log})
    block = bytes(MIB)
    h = hashlib.sha256(header)
    parts = [comp.compress(header)]
    for _ in range(mib):
        parts.append(comp.compress(block))
        h.update(block)
    parts += [comp.compress(trailer), comp.flush()]
    h.update(trailer)
    return b"".join(parts), "sha256:" + h.hexdigest()


def _zstd_module():  # type: ignore[no-untyped-def]
    if sys.version_info >= (3, 14):
        from compression import zstd
    else:
        from backports import zstd
    return zstd
