"""Types of the optional C header loop; see _tarscan.c."""

from collections.abc import Callable

def walk(
    buf: bytes | memoryview,
    pos: int,
    skip: int,
    padding: int,
    entry_type: type[tuple[object, ...]] | None,
    stop_at_data: bool = False,
    /,
) -> tuple[int, int, int, list[tuple[object, ...]] | None, tuple[int, ...], int | None, bool]: ...

def set_normalise(fn: Callable[[str], str], /) -> None: ...
