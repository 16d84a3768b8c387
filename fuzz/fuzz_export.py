"""Coverage-guided fuzzing of the whole read path: `make fuzz` (needs the `fuzz` extra).

Each input is taken as a tar stream (optionally gzip/zstd compressed) on standard input and as a
single blob for the walker. Any exception other than OciError is a crash.
"""

from __future__ import annotations

import io
import sys

import atheris

with atheris.instrument_imports():
    from ocianalyze import Options, open_export, verify
    from ocianalyze.errors import OciError
    from ocianalyze.walker import ScanOptions, scan

LIMIT = ScanOptions(max_uncompressed=16 << 20, collect_entries=True)


def one_input(data: bytes) -> None:
    scan(io.BytesIO(data), layer=None, opts=LIMIT)
    try:
        export = open_export("-", stdin=io.BytesIO(data), scan_stream=True, opts=LIMIT)
        verify(export, Options(scan=LIMIT))
    except OciError:
        pass


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
