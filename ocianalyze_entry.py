"""The console entry point: made safe before anything heavy is imported.

It lives outside the ``ocianalyze`` package on purpose: importing the command line (the
readers, the walker) takes tens of milliseconds, and a Ctrl-C or a SIGTERM in that window must
already end the run with one line and 128 + the signal's number, never a traceback. So this
module imports only ``os`` (loaded by the interpreter already) and the built-in ``_signal``,
installs the handlers, keeps the standard descriptors 0-2 occupied, and only then imports the
command line.
"""

# The C module behind `signal`: built in, while `signal` itself imports `enum` (milliseconds).
import _signal
import os
import sys

# Each ends the run with 128 + its number (130, 143), as a shell reports a process it ended.
_SIGNALS = (_signal.SIGINT, _signal.SIGTERM)


def _stop(signum: int, frame: object) -> None:
    """Leave at once: one line, no traceback, no interpreter teardown.

    ``os._exit`` also ends the worker threads, which a KeyboardInterrupt in the main thread
    would leave running until their blob is read."""
    try:  # noqa: SIM105 (contextlib is not loaded yet: importing it here costs start-up time)
        os.write(2, b"ocianalyze: interrupted\n")
    except OSError:  # stderr closed or full: the exit status still says it
        pass
    os._exit(128 + signum)


def _fill_closed_descriptors() -> None:
    """Put /dev/null on any of descriptors 0-2 the caller closed (``>&-``).

    Python leaves sys.stdin/stdout/stderr as None for those; without this, the next file the
    run opens (an export's blob) would get descriptor 1 or 2, and anything written to that
    number would land in it. The command line still sees the None and reports a closed stream.
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            try:  # os.open takes the lowest free number: the one just found closed
                os.open(os.devnull, os.O_RDWR)
            except OSError:  # no /dev/null: nothing better to put there
                return


def _version() -> int:
    """``ocianalyze --version``, answered here: the command line (the readers and the model)
    costs several times the interpreter's own start-up, and this line needs none of it. The
    outcomes match the command line's: a reader that left is no error (0); a closed or full
    stdout is one line and exit 2."""
    from ocianalyze import __version__  # the package imports nothing eagerly

    data = f"ocianalyze {__version__}\n".encode()
    try:
        if sys.stdout is None:  # closed by the caller (`>&-`)
            raise OSError(9, os.strerror(9))  # EBADF
        while data:
            data = data[os.write(1, data) :]
    except BrokenPipeError:
        return 0
    except OSError as exc:
        try:  # noqa: SIM105 (see _stop)
            os.write(2, f"ocianalyze: stdout: {exc.strerror or exc}\n".encode())
        except OSError:
            pass
        return 2
    return 0


def main() -> None:
    """Install the handlers, then run the command line (which ends the process)."""
    for sig in _SIGNALS:
        _signal.signal(sig, _stop)
    _fill_closed_descriptors()
    if sys.argv[1:] == ["--version"]:
        os._exit(_version())
    from ocianalyze.cli import main as run

    run()
