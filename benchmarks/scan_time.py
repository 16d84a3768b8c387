"""Time the one-pass scan of the bench's largest layer in-process, without start-up.

The whole-process rows of bench.py vary by ±0.02 s between runs on a shared machine; a change
to the split scan (walker.py) moves the scan by less than that. This script reads the largest
blob of one bench layout (``zstd`` by default; argv[1]: ``gzip``, ``zstd-small``...) with the
walker's split scan, ``--rounds`` times (default 15), and prints the median and least wall
time and the CPU time. To compare two versions of the code, run it from each checkout in turn,
several times, and compare the medians (benchmarks/README.md, issue 18).

Needs the bench data built by bench.py (``python benchmarks/bench.py --only zstd`` once).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import cache_root  # this directory, on the path as the script runs

from ocianalyze.walker import ScanOptions, scan


def largest_blob(layout: Path) -> Path:
    """The largest blob of ``layout`` (its one large layer)."""
    return max((layout / "blobs" / "sha256").iterdir(), key=lambda p: p.stat().st_size)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("image", nargs="?", default="zstd", help="bench layout (default zstd)")
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    roots = sorted(cache_root().glob("v*-*mb"))
    layouts = [r / args.image for r in roots if (r / args.image / "blobs").is_dir()]
    if not layouts:
        print(f"no bench layout {args.image!r}: run benchmarks/bench.py first", file=sys.stderr)
        return 2
    blob = largest_blob(layouts[-1])
    walls, cpus = [], []
    for _ in range(args.rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        with blob.open("rb") as f:
            scan(f, layer=True, opts=ScanOptions(split=True))
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    print(
        f"{blob.parent.parent.parent.name}: {blob.stat().st_size} bytes, {args.rounds} scans: "
        f"wall median {statistics.median(walls):.4f} s, least {min(walls):.4f} s; "
        f"CPU median {statistics.median(cpus):.3f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
