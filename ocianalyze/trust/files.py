"""Files the user names for the trust checks (keys, trusted roots, bundles, pin lists): read
whole, but never more than a bound, so a wrong path (``/dev/zero``, a disk image) is one line."""

from __future__ import annotations

from ..errors import Unreadable


def read_given(path: str, limit: int, what: str) -> bytes:
    """The bytes of ``path``, at most ``limit`` bytes.

    Raises ``errors.Unreadable`` when the file system refuses (its error's text) or when the
    file holds more than ``limit`` bytes (``too large for <what> (over <limit> bytes)``)."""
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise Unreadable(path, exc.strerror or str(exc), exc.errno) from None
    if len(data) > limit:
        raise Unreadable(path, f"too large for {what} (over {limit} bytes)")
    return data
