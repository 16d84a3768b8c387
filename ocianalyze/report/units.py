"""Human sizes as the docker-library repo-info pages write them: powers of 1000, one decimal."""

from __future__ import annotations

# "KB", not SI's "kB": the repo-info pages print it so, and the markdown page copies them.
_UNITS = ("B", "KB", "MB", "GB", "TB", "PB")


def human(n: int) -> str:
    value, unit = float(n), 0
    while round(value, 1) >= 1000 and unit < len(_UNITS) - 1:  # 999950 is 1.0 MB, not 1000.0 KB
        value /= 1000
        unit += 1
    return f"{value:.1f} {_UNITS[unit]}"


def human_exact(n: int) -> str:
    """'33.9 MB (33937880 bytes)', or '230.0 B' when the unit is already bytes."""
    text = human(n)
    return text if n < 1000 else f"{text} ({n} bytes)"
