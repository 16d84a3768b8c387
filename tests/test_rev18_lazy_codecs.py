"""A layer's decoder is imported for its own compression only: verifying gzip layers never
loads zstd (backports.zstd or zstandard, about 1.5 ms of start-up), a zstd layer never the gzip
inflater (isal). One job: the layer is read by the pushing Decoder."""

from __future__ import annotations

import gzip
import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
import zstandard

from .builders import build_layout, tar_bytes

TAR = tar_bytes([("hello", b"hi\n")])
ZSTD_MODULES = {"backports.zstd", "compression.zstd", "zstandard"}
GZIP_MODULES = {"isal", "isal.isal_zlib"}


def _loaded(layout: Path) -> set[str]:
    proc = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-c",
            "import sys; sys.argv = ['ocianalyze', 'verify', '-q', '--jobs', '1', "
            f"{str(layout)!r}]; "
            "from ocianalyze_entry import main; main()",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [x for x in proc.stderr.splitlines() if x.startswith("import time:")]
    return {x.rsplit("|", 1)[-1].strip() for x in lines}


@pytest.mark.parametrize(
    ("media", "blob", "absent", "present"),
    [
        ("gzip", gzip.compress(TAR), ZSTD_MODULES, GZIP_MODULES),
        ("zstd", zstandard.ZstdCompressor().compress(TAR), GZIP_MODULES, ZSTD_MODULES),
    ],
    ids=["gzip", "zstd"],
)
def test_verify_imports_only_the_decoder_it_needs(
    tmp_path: Path, media: str, blob: bytes, absent: set[str], present: set[str]
) -> None:
    diff_id = "sha256:" + hashlib.sha256(TAR).hexdigest()
    build_layout(
        tmp_path,
        [blob],
        diff_ids=[diff_id],
        media_type=f"application/vnd.oci.image.layer.v1.tar+{media}",
    )
    loaded = _loaded(tmp_path)
    assert loaded & present  # the layer was decoded
    assert not loaded & absent
