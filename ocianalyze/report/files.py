"""Renderers for `files`: a `tar -tv` style listing, or JSON."""

from __future__ import annotations

import json
import stat
import time
from collections.abc import Iterable
from typing import Any

from ..tarwalk import TarEntry
from .escape import printable

_TYPE_BITS = {
    "file": stat.S_IFREG,
    "dir": stat.S_IFDIR,
    "symlink": stat.S_IFLNK,
    "hardlink": stat.S_IFREG,
    "char": stat.S_IFCHR,
    "block": stat.S_IFBLK,
    "fifo": stat.S_IFIFO,
}


def _mode(e: TarEntry) -> str:
    text = stat.filemode(_TYPE_BITS.get(e.type, 0) | (e.mode & 0o7777))
    return "h" + text[1:] if e.type == "hardlink" else text


def _when(mtime: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(mtime))


def files_text(entries: Iterable[TarEntry]) -> str:
    lines = []
    for e in entries:
        target = printable(e.linkname)
        link = {"symlink": f" -> {target}", "hardlink": f" link to {target}"}.get(e.type, "")
        when = _when(e.mtime)
        lines.append(f"{_mode(e)} {e.uid}/{e.gid} {e.size:>10} {when} {printable(e.name)}{link}")
    return "\n".join(lines) + ("\n" if lines else "")


def files_doc(image: str, layer: int | None, entries: Iterable[TarEntry]) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "image": image,
        "layer": layer,
        "entries": [
            {
                "path": e.name,
                "type": e.type,
                "mode": e.mode & 0o7777,
                "uid": e.uid,
                "gid": e.gid,
                "size": e.size,
                "mtime": e.mtime,
                "link": e.linkname or None,
            }
            for e in entries
        ],
    }


def files_json(image: str, layer: int | None, entries: Iterable[TarEntry]) -> str:
    return json.dumps(files_doc(image, layer, entries), indent=2) + "\n"
