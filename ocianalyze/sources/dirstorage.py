"""Files under an export directory, each opened once, beneath one open directory descriptor.

A name is never resolved to a path string and then opened again: the check that a name stays
inside the export and the read use the same open file. The export's root is opened once; every
name is walked one component at a time from that descriptor (``openat`` with ``O_NOFOLLOW``),
each symlink met is read (``readlinkat``) and followed only while it stays inside the export.
What is opened is checked with ``fstat`` (a regular file, its size), and that same descriptor is
what the caller reads. This closes the race of a check by path followed by an open by path
(a directory swapped for a symlink in between). ``openat2(RESOLVE_BENEATH)`` would save two
syscalls per blob but needs ctypes, whose import costs more start-up time than it saves.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import weakref
from collections import deque
from typing import BinaryIO

from ..errors import Unreadable, UnsafePath

# Linux follows at most 40 symlinks in one lookup before ELOOP (fs/namei.c, MAXSYMLINKS).
MAX_SYMLINKS = 40

# O_PATH (Linux): a directory we only look names up in needs no read permission, as a path
# lookup does not.
_O_PATH: int | None = getattr(os, "O_PATH", None)
_DIR_FLAGS = (_O_PATH or os.O_RDONLY) | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it unread.
_FILE_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_ROOT_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC

# The OS says the name is not there (or not a directory on the way): the export lacks it.
_ABSENT = frozenset({errno.ENOENT, errno.ENOTDIR})
# A socket answers open() with ENXIO: it exists but is no regular file, so it is absent too.
_NOT_A_FILE = frozenset({errno.ENXIO})


class DirStorage:
    """Files under a directory, opened beneath one descriptor of it (see the module docstring).

    ``DirStorage(root, where)`` opens ``root`` once (``O_RDONLY | O_DIRECTORY``); ``where`` is
    the path the user gave, for messages. Names are ``/``-separated and relative to the root.
    A symlink met on the way is followed while it stays inside the root: ``..`` above the root,
    or an absolute target, must come straight back down the root's own real path (no symlink
    outside the root is ever looked at), else the name raises ``UnsafePath``. At most
    ``MAX_SYMLINKS`` (40) links are followed, as Linux's ELOOP.

    OS errors: ENOENT and ENOTDIR mean the name is absent (None); a name that is not a regular
    file (a directory, a FIFO, a socket, a device) is absent too; every other error (EACCES,
    ELOOP, ENAMETOOLONG, EIO, ...) raises ``Unreadable`` with ``os.strerror(errno)``. The
    root cannot be opened: ``Unreadable`` from the constructor. Call ``close()`` (or use it as
    a context manager) to release the root descriptor. Safe to use from several threads.
    """

    def __init__(self, root: str | os.PathLike[str], where: str) -> None:
        self.where = where
        try:
            self._fd = os.open(root, _ROOT_FLAGS)
        except OSError as exc:
            raise _unreadable(where, exc.errno) from None
        self._closer = weakref.finalize(self, os.close, self._fd)
        # Used only to tell whether ".." above the root or an absolute link comes back in;
        # never opened, so a rename of it can at worst refuse a name, never read outside.
        self.root = os.path.realpath(root)  # absolute, no "..", no symlink, no "//"
        self._root_parts = tuple(p for p in self.root.split("/") if p)

    def close(self) -> None:
        """Release the root descriptor. Streams already opened stay readable."""
        self._closer()

    def __enter__(self) -> DirStorage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def size(self, name: str) -> int | None:
        """The size in bytes of the regular file ``name``, or None when the export lacks it."""
        opened = self._open_fd(name)
        if opened is None:
            return None
        os.close(opened[0])
        return opened[1]

    def open_sized(self, name: str) -> tuple[BinaryIO, int] | None:
        """An unbuffered read-only stream of ``name`` and its size in bytes, from one open;
        None when the export lacks a regular file of that name. Raises ``UnsafePath``,
        ``Unreadable``."""
        opened = self._open_fd(name)
        if opened is None:
            return None
        fd, size = opened
        try:
            return io.FileIO(fd, "rb", closefd=True), size
        except BaseException:
            os.close(fd)
            raise

    def open(self, name: str) -> BinaryIO:
        """An unbuffered read-only stream of ``name``. Raises ``FileNotFoundError`` when the
        export lacks it (as a missing file does), ``UnsafePath``, ``Unreadable``."""
        opened = self.open_sized(name)
        if opened is None:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), name)
        return opened[0]

    def canonical(self, name: str) -> str | None:
        """``name`` itself when the export holds it (links are followed when opened)."""
        return name if self.size(name) is not None else None

    def _open_fd(self, name: str) -> tuple[int, int] | None:
        """A descriptor of the regular file ``name`` and its size in bytes, both from one
        fstat; None when absent."""
        if "\0" in name:  # no file system holds such a name
            return None
        if not self._closer.alive:
            raise ValueError("DirStorage is closed")
        fd = self._walk(name)
        if fd < 0:
            return None
        return self._regular(fd, name)

    def _regular(self, fd: int, name: str) -> tuple[int, int] | None:
        try:
            st = os.fstat(fd)
        except OSError as exc:
            os.close(fd)
            raise _unreadable(f"{self.where}: {name}", exc.errno) from None
        if stat.S_ISREG(st.st_mode):
            return fd, st.st_size
        os.close(fd)
        return None

    def _walk(self, name: str) -> int:
        """Open ``name`` one component at a time; a descriptor, or -1 when absent."""
        walk = _Walk(self._fd, self._root_parts, f"{self.where}: {name}")
        try:
            return walk.run(name)
        finally:
            walk.release()


class _Walk:
    """One lookup: a stack of directory descriptors beneath the root, and how far above it
    (``above`` levels, while ``..`` or an absolute link retraces the root's real path)."""

    def __init__(self, root_fd: int, root_parts: tuple[str, ...], where: str) -> None:
        self.root_fd = root_fd
        self.root_parts = root_parts
        self.where = where
        self.dirs: list[int] = []
        self.above = 0
        self.links = 0

    @property
    def cur(self) -> int:
        return self.dirs[-1] if self.dirs else self.root_fd

    def release(self) -> None:
        for fd in self.dirs:
            os.close(fd)
        self.dirs.clear()

    def run(self, name: str) -> int:
        parts = deque(name.split("/"))
        if name.startswith("/"):
            self.above = len(self.root_parts)
        while parts:
            comp = parts.popleft()
            if comp in ("", "."):
                continue
            if comp == "..":
                self._up()
                continue
            if self.above:
                self._retrace(comp)
                continue
            # A trailing "/" leaves a "" behind: the name must then be a directory, as POSIX.
            fd = self._step(comp, last=not parts, parts=parts)
            if fd is not None:
                return fd
        if self.above:
            raise UnsafePath(self.where, "resolves outside the export")
        return -1  # the name ends on a directory: no regular file

    def _up(self) -> None:
        if self.above or not self.dirs:
            self.above = min(self.above + 1, len(self.root_parts))
        else:
            os.close(self.dirs.pop())

    def _retrace(self, comp: str) -> None:
        """Above the root, only the root's own path leads back in; anything else is outside."""
        if comp != self.root_parts[len(self.root_parts) - self.above]:
            raise UnsafePath(self.where, "resolves outside the export")
        self.above -= 1

    def _step(self, comp: str, *, last: bool, parts: deque[str]) -> int | None:
        """Open one component: a file descriptor when ``last`` (or -1 when absent), else push
        a directory and return None. A symlink is read and its target put before ``parts``."""
        flags = (_FILE_FLAGS | os.O_NOFOLLOW) if last else _DIR_FLAGS
        try:
            fd = os.open(comp, flags, dir_fd=self.cur)
        except OSError as exc:
            err = exc.errno or errno.EIO
            if last and err == errno.ELOOP:  # O_NOFOLLOW met a link
                return self._follow(self._link_by_name(comp), parts)
            if not last and err == errno.ENOTDIR:  # a link, or no directory at all
                return self._not_a_dir(comp, parts)
            return self._absent_or_raise(err)
        if last:
            return fd
        self.dirs.append(fd)
        return None

    def _not_a_dir(self, comp: str, parts: deque[str]) -> int | None:
        """Look at the entry itself through one O_PATH descriptor: a directory (renamed in
        since the first open) is entered, a link is read from the same descriptor, anything
        else is absent. One descriptor, so a rename in between cannot mix two entries."""
        if _O_PATH is None:
            return self._follow(self._link_by_name(comp), parts)
        try:
            fd = os.open(comp, _O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self.cur)
        except OSError as exc:
            return self._absent_or_raise(exc.errno or errno.EIO)
        try:
            mode = os.fstat(fd).st_mode
            if stat.S_ISDIR(mode):
                self.dirs.append(fd)
                fd = -1
                return None
            if not stat.S_ISLNK(mode):
                return -1
            target = os.readlink("", dir_fd=fd)  # readlinkat(fd, ""): the link itself
        except OSError as exc:
            raise _unreadable(self.where, exc.errno) from None
        finally:
            if fd >= 0:
                os.close(fd)
        return self._follow(target, parts)

    def _link_by_name(self, comp: str) -> str | None:
        """The target of the link ``comp``; None when it is gone. When it is no link any more
        (renamed over since the open), ``comp`` itself, to be looked up again."""
        try:
            return os.readlink(comp, dir_fd=self.cur)
        except OSError as exc:
            if exc.errno == errno.EINVAL:
                return comp
            if exc.errno in _ABSENT:
                return None
            raise _unreadable(self.where, exc.errno) from None

    def _follow(self, target: str | None, parts: deque[str]) -> int | None:
        """Put a link's target before the remaining ``parts``; an absolute target starts over
        from above the root (it must retrace the root's path). ELOOP past MAX_SYMLINKS."""
        if target is None:
            return -1
        self.links += 1
        if self.links > MAX_SYMLINKS:
            raise _unreadable(self.where, errno.ELOOP)
        if target.startswith("/"):
            self.release()
            self.above = len(self.root_parts)
        parts.extendleft(reversed(target.split("/")))
        return None

    def _absent_or_raise(self, err: int) -> int:
        if err in _ABSENT or err in _NOT_A_FILE:
            return -1
        raise _unreadable(self.where, err)


def _unreadable(where: str, err: int | None) -> Unreadable:
    code = err if err is not None else errno.EIO
    return Unreadable(where, os.strerror(code), code)
