"""Measure what each file of a layer costs in memory and time for `verify` and `report`.

Builds (once, in ~/.cache/ocianalyze-bench) an OCI layout whose single gzip layer holds N small
files (default 200,000; argv[1] to change), then runs `verify` (no per-file state beyond name
hashes) and `report` (entry table + merge) and prints peak RSS, time and the cost per file.
"""

from __future__ import annotations

import gzip
import hashlib
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
    layout = CACHE / f"many-files-{n}"
    if (layout / "index.json").exists():
        return layout
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    raw = layout / "layer.tar"
    with tarfile.open(raw, "w", format=tarfile.USTAR_FORMAT) as tf:
        for i in range(n):
            info = tarfile.TarInfo(f"usr/share/pkg{i // 1000:04d}/file-{i:07d}.txt")
            info.size = 10
            tf.addfile(info, __import__("io").BytesIO(b"0123456789"))
    data = raw.read_bytes()
    raw.unlink()
    layer = gzip.compress(data, 1)
    config = {
        "architecture": "amd64",
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
    desc = {"mediaType": manifest["mediaType"], **_put(layout, json.dumps(manifest).encode())}
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [desc]}))
    return layout


def run(args: list[str]) -> tuple[float, int]:
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "ocianalyze", *args], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{args} failed")
    return time.perf_counter() - start, usage.ru_maxrss * 1024


def main() -> None:
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
