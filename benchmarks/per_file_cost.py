"""Measure what each file of a layer costs in memory and time for `verify`, `report`, `diff`.

Builds (once, in ~/.cache/ocianalyze-bench) an OCI layout whose single gzip layer holds N small
files (default 200,000; argv[1] to change), then runs `verify` (no per-file state beyond name
hashes) and `report` (entry table + merge) and prints peak RSS, time and the cost per file.

``--diff [N]``: `diff`'s memory instead (peak RSS of each run, nothing timed). Two more
layouts of the same N files: one with a single file rewritten (same size), one with a tenth
rewritten; from `diff` against each (and `verify` of one export) it prints the bytes per file
of one image's merged view and per changed path. Then two multi-platform indexes of K = 1 and
K = 4 platforms, each platform its own layer of N/4 files, one of them rewritten in NEW:
`diff`'s peak RSS must not grow with K (it reads and compares one pair of images at a time).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ocianalyze-bench"


def _put(layout: Path, data: bytes) -> dict[str, object]:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def build(n: int) -> Path:
    return build_index(f"many-files-{n}", [n], 0)


def _layer_tar(n: int, changed: int, prefix: str = "") -> bytes:
    """N files of 10 bytes; the first ``changed`` of every ten rewritten (the same size)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for i in range(n):
            info = tarfile.TarInfo(f"{prefix}usr/share/pkg{i // 1000:04d}/file-{i:07d}.txt")
            info.size = 10
            new = i % 10 < changed or (changed < 0 and i == 0)  # -1: one file in all
            tf.addfile(info, io.BytesIO(b"9876543210" if new else b"0123456789"))
    return buf.getvalue()


ARCHES = ("amd64", "arm64", "ppc64le", "s390x", "riscv64", "386", "mips64le", "arm")


def build_index(name: str, files: list[int], changed: int) -> Path:
    """An OCI layout of one image per entry of ``files`` (each a platform with one gzip
    layer of that many files, ``changed`` of every ten rewritten), built once."""
    layout = CACHE / name
    if (layout / "index.json").exists():
        return layout
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    index = []
    for arch, n in zip(ARCHES, files, strict=False):
        prefix = "" if len(files) == 1 else f"{arch}/"
        index.append(_image(layout, _layer_tar(n, changed, prefix), arch))
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": index}))
    return layout


def _image(layout: Path, data: bytes, arch: str) -> dict[str, object]:
    layer = gzip.compress(data, 1, mtime=0)
    config = {
        "architecture": arch,
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(data).hexdigest()]},
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            **_put(layout, json.dumps(config).encode()),
        },
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **_put(layout, layer)}
        ],
    }
    return {
        "mediaType": manifest["mediaType"],
        **_put(layout, json.dumps(manifest).encode()),
        "annotations": {"org.opencontainers.image.ref.name": "app"},
        "platform": {"os": "linux", "architecture": arch},
    }


def run(args: list[str], ok: int = 0) -> tuple[float, int]:
    """(seconds, peak RSS in bytes) of one run, which must exit ``ok``."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "ocianalyze", *args], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != ok:
        raise SystemExit(f"{args} failed")
    return time.perf_counter() - start, usage.ru_maxrss * 1024


def diff_inputs(n: int) -> list[Path]:
    """OLD, NEW with one file changed, NEW with a tenth changed, then OLD and NEW of K = 1
    and K = 4 platforms of n/4 files each (one file changed in each platform)."""
    out = [
        build(n),
        build_index(f"many-files-{n}-one-changed", [n], -1),
        build_index(f"many-files-{n}-tenth-changed", [n], 1),
    ]
    for k in (1, 4):
        out.append(build_index(f"platforms-{k}x{n // 4}-old", [n // 4] * k, 0))
        out.append(build_index(f"platforms-{k}x{n // 4}-new", [n // 4] * k, -1))
    return out


def diff_costs(n: int) -> None:
    """diff's memory per merged-view file and per changed path, and across platforms."""
    # Built in a child process: a child's ru_maxrss starts at its parent's peak RSS (the
    # kernel carries the high-water mark over exec), and building holds whole tars.
    subprocess.run([sys.executable, __file__, "--diff-build", str(n)], check=True)
    old, one, tenth, *platforms = diff_inputs(n)
    _, v_rss = run(["verify", "--quiet", str(old)])
    _, one_rss = run(["diff", "--quiet", "--format", "json", str(old), str(one)], ok=1)
    _, tenth_rss = run(["diff", "--quiet", "--format", "json", str(old), str(tenth)], ok=1)
    changes = n // 10 - 1
    print(f"{n} files in one layer; peak RSS in MiB (one run each, nothing timed)")
    print(f"verify OLD {v_rss / 2**20:.1f}; diff, 1 file changed {one_rss / 2**20:.1f}; ", end="")
    print(f"diff, {n // 10} changed (--format json) {tenth_rss / 2**20:.1f}")
    # A pair holds two merged views (OLD's and NEW's image) of n files each.
    print(f"diff: {(one_rss - v_rss) / (2 * n):.0f} bytes per file of one image's merged view")
    print(f"diff: {(tenth_rss - one_rss) / changes:.0f} bytes per changed path (JSON output)")
    per = n // 4
    for k, a, b in ((1, *platforms[:2]), (4, *platforms[2:])):
        _, rss = run(["diff", "--quiet", "--format", "json", str(a), str(b)], ok=1)
        print(f"diff of {k} platform(s) of {per} files each, one changed in each: ", end="")
        print(f"peak RSS {rss / 2**20:.1f} MiB")


def main() -> None:
    if sys.argv[1:2] == ["--diff-build"]:
        diff_inputs(int(sys.argv[2]))
        return
    if sys.argv[1:2] == ["--diff"]:
        diff_costs(int(sys.argv[2]) if len(sys.argv) > 2 else 200_000)
        return
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    layout = build(n)
    v_time, v_rss = run(["verify", "--quiet", str(layout)])
    r_time, r_rss = run(["report", "--quiet", "--format", "json", str(layout)])
    print(f"{n} files in one layer")
    print(
        f"verify: {v_time:6.2f} s  peak RSS {v_rss / 1e6:6.1f} MB  {v_time / n * 1e6:5.2f} us/file"
    )
    print(
        f"report: {r_time:6.2f} s  peak RSS {r_rss / 1e6:6.1f} MB  {r_time / n * 1e6:5.2f} us/file"
    )
    print(f"report's per-file state (entry table + merge): {(r_rss - v_rss) / n:.0f} bytes/file")


if __name__ == "__main__":
    main()
