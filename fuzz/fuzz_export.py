"""Coverage-guided fuzzing of the whole read path: `make fuzz` (needs the `fuzz` extra).

Each input is taken as a tar stream (optionally gzip/zstd compressed) on standard input and as a
single blob for the walker. Any exception other than OciError is a crash, and so is any
difference between the C header loop and the pure-Python walker on the raw input.
"""

from __future__ import annotations

import io
import sys

import atheris

with atheris.instrument_imports():
    from ocianalyze import Options, open_export, verify
    from ocianalyze.errors import OciError
    from ocianalyze.tarwalk import TarError, TarWalker
    from ocianalyze.walker import ScanOptions, scan

LIMIT = ScanOptions(max_uncompressed=16 << 20, collect_entries=True)


def walk(data: bytes, accelerated: bool) -> tuple[object, ...]:
    seen: list[object] = []
    walker = TarWalker(seen.extend, accelerated=accelerated)
    try:
        for at in range(0, len(data), 4096):  # several chunks: headers cross their edges
            walker.feed(data[at : at + 4096])
        walker.finish()
    except TarError as exc:
        return (exc.kind, str(exc), repr(seen), repr(walker.stats))
    return (repr(seen), repr(walker.stats))


def one_input(data: bytes) -> None:
    if walk(data, True) != walk(data, False):
        raise AssertionError("the C header loop and the Python walker disagree")
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
