"""Renderers of a diff (diff.result.ExportDiff): text, JSON and markdown. Pure functions.

Every string from an export (refs, paths, config values, link targets) goes through
``printable`` in text and markdown; JSON keeps strings exact. The JSON document is the
versioned contract the README's "Comparing exports" section describes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ..diff.result import (
    SCHEMA_VERSION,
    BlobStatus,
    Change,
    ConfigChange,
    Delta,
    ExportDiff,
    FileChange,
    FileState,
    ImageDiff,
    ImageRef,
    SizeChange,
)
from ..errors import Problem, Severity, tally_kinds
from .escape import printable
from .units import human

_MARK = {Change.added: "+", Change.removed: "-", Change.changed: "~"}
_BLOB_MARK = {
    BlobStatus.shared: "=",
    BlobStatus.recompressed: "~",
    BlobStatus.added: "+",
    BlobStatus.removed: "-",
}
_WIDTH = 100
_SLOT = "\0changes {}\0"  # where an image's file changes go (no JSON string holds NUL raw)


# ---- JSON -------------------------------------------------------------------------------


def _ref(r: ImageRef) -> dict[str, Any]:
    return {"name": r.name, "platform": r.platform, "digest": r.digest, "size": r.size}


def _state(s: FileState | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {
        "type": s.type,
        "size": s.size,
        "mode": s.mode,
        "uid": s.uid,
        "gid": s.gid,
        "link": s.link or None,
        "sha256": s.sha256,
    }


def _change(c: FileChange) -> dict[str, Any]:
    return {
        "path": c.path,
        "change": c.change.value,
        "what": [a.value for a in c.what],
        "old": _state(c.old),
        "new": _state(c.new),
    }


def _image(i: ImageDiff, n: int, changes: bool) -> dict[str, Any]:
    files = None
    if i.files is not None:
        files = {
            "added": i.files.count(Change.added),
            "removed": i.files.count(Change.removed),
            "changed": i.files.count(Change.changed),
            "unchanged": i.files.unchanged,
            "changes": [_change(c) for c in i.files.changes] if changes else _SLOT.format(n),
        }
    return {
        "old": _ref(i.old),
        "new": _ref(i.new),
        "differs": i.differs,
        "layers": [
            {
                "status": layer.status.value,
                "old_digest": layer.old_digest,
                "new_digest": layer.new_digest,
                "diff_id": layer.diff_id,
                "old_size": layer.old_size,
                "new_size": layer.new_size,
            }
            for layer in i.layers
        ],
        "config": [{"field": c.field, "old": c.old, "new": c.new} for c in i.config],
        "sizes": {s.measure: {"old": s.old, "new": s.new, "delta": s.delta} for s in i.sizes},
        "files": files,
        "files_note": i.files_note,
    }


def _delta(d: Delta) -> dict[str, Any]:
    return {
        "held": d.held,
        "blobs": d.total_blobs,
        "bytes": d.total_bytes,
        "missing_blobs": len(d.missing),
        "missing_bytes": d.missing_bytes,
        "saved": round(d.saved, 6),
        "missing": [
            {"digest": b.digest, "size": b.size, "media_type": b.media_type} for b in d.missing
        ],
    }


def diff_doc(d: ExportDiff, changes: bool = True) -> dict[str, Any]:
    """The JSON document (see diff_json); ``changes=False`` leaves a slot string in place of
    each image's list of file changes."""
    return {
        "schema_version": SCHEMA_VERSION,
        "old": {"path": d.old_path, "format": d.old_format},
        "new": {"path": d.new_path, "format": d.new_format},
        "differs": d.differs,
        "images": [_image(i, n, changes) for n, i in enumerate(d.images)],
        "added": [_ref(r) for r in d.added],
        "removed": [_ref(r) for r in d.removed],
        "delta": _delta(d.delta),
    }


def diff_json(d: ExportDiff) -> str:
    """The document, indented, with one file change per line: json.dumps builds an indented
    document in Python, so the changes (as many as the image has files) are written compactly,
    by the C encoder, and spliced in."""
    text = json.dumps(diff_doc(d, changes=False), indent=2, allow_nan=False)
    for n, image in enumerate(d.images):
        if image.files is not None:
            chunk = ",\n        ".join(
                json.dumps(_change(c), allow_nan=False) for c in image.files.changes
            )
            slot = json.dumps(_SLOT.format(n))
            text = text.replace(slot, f"[\n        {chunk}\n      ]" if chunk else "[]", 1)
    return text + "\n"


# ---- text -------------------------------------------------------------------------------


def _signed(n: int | None) -> str:
    if n is None:
        return "?"
    if n == 0:
        return "0 B"
    return ("+" if n > 0 else "-" if n < 0 else "±") + human(abs(n))


def _size(n: int | None) -> str:
    return "?" if n is None else human(n)


def _short(digest: str | None) -> str:
    return "-" if digest is None else printable(digest.split(":", 1)[-1][:12])


def _label(r: ImageRef) -> str:
    return f"{r.name} {r.platform or ''}".strip()


def _name(r: ImageRef) -> str:
    return printable(_label(r))


def _clip(line: str) -> str:
    return line if len(line) <= _WIDTH else line[: _WIDTH - 1] + "…"


def _fit(text: str, room: int) -> str:
    """``text`` escaped (``printable``) in at most ``room`` columns (at least 9): when longer,
    its middle is elided, so a long path keeps its start and its file name (two thirds of the
    room go to the end), and an escape (``\\033``) is kept whole or left out, never cut."""
    shown = printable(text)
    room = max(room, 9)
    if len(shown) <= room:
        return shown
    parts = [printable(c) for c in text]
    head: list[str] = []
    used = 0
    for p in parts:
        if used + len(p) > (room - 1) // 3:  # a third for the start, the rest for the end
            break
        head.append(p)
        used += len(p)
    tail: list[str] = []
    for p in reversed(parts):
        if used + len(p) > room - 1:
            break
        tail.append(p)
        used += len(p)
    return "".join(head) + "…" + "".join(reversed(tail))


def _value(v: str | list[str] | None) -> str:
    """A config value as a JSON literal, escaped once: JSON already writes the control
    characters and backslashes as escapes, so ``printable`` takes only what JSON leaves raw
    (DEL, C1 controls, bidi overrides, line separators), and never doubles a backslash."""
    if v is None:
        return "(unset)"
    text = json.dumps(v, ensure_ascii=False)
    return "".join(c if c == "\\" else printable(c) for c in text)


def _config_lines(c: ConfigChange) -> list[str]:
    if c.field == "history" and isinstance(c.old, list | None) and isinstance(c.new, list | None):
        import difflib

        lines = list(difflib.ndiff(c.old or [], c.new or []))
        kept = [f"      {printable(x[:2] + x[2:])}" for x in lines if x[:1] in "+-"]
        return ["    history:", *kept]
    return [f"    {printable(c.field)}: {_value(c.old)} -> {_value(c.new)}"]


def _file_line(c: FileChange) -> str:
    state = c.new or c.old
    assert state is not None
    if c.change is Change.changed:
        assert c.old is not None and c.new is not None
        what = ",".join(a.value for a in c.what)
        sizes = f"{c.old.size} -> {c.new.size}" if c.old.size != c.new.size else f"{c.new.size}"
        extra = f"{what}; {sizes} B"
        if "mode" in what:
            extra += f"; mode {c.old.mode:04o} -> {c.new.mode:04o}"
        if "owner" in what:
            extra += f"; owner {c.old.uid}:{c.old.gid} -> {c.new.uid}:{c.new.gid}"
        if "link" in what:  # each target in a third of a line at most: the path keeps the rest
            ends = (_fit(x.link or "", _WIDTH // 3 - 6) for x in (c.old, c.new))
            extra += "; link {} -> {}".format(*ends)
    else:
        extra = f"{state.type}, {state.size} B"
    head, tail = f"    {_MARK[c.change]} ", f"  ({extra})"
    return head + _fit(c.path, _WIDTH - len(head) - len(tail)) + tail


def _sizes_lines(sizes: tuple[SizeChange, ...]) -> list[str]:
    out = [f"  {'sizes':<20}{'old':>14}{'new':>14}{'delta':>14}"]
    for s in sizes:
        out.append(f"    {s.measure:<18}{_size(s.old):>14}{_size(s.new):>14}{_signed(s.delta):>14}")
    return out


def _image_lines(i: ImageDiff, top: int) -> list[str]:
    mark = "changed" if i.differs else "same"
    room = (_WIDTH - len(f"image  -> : {mark}")) // 2
    out = [f"image {_fit(_label(i.old), room)} -> {_fit(_label(i.new), room)}: {mark}"]
    out.append(f"  manifest {_short(i.old.digest)} -> {_short(i.new.digest)}")
    counts = {s: sum(1 for x in i.layers if x.status is s) for s in BlobStatus}
    out.append("  layers: " + ", ".join(f"{n} {s.value}" for s, n in counts.items()))
    for x in i.layers:
        if x.status is not BlobStatus.shared:
            size = x.new_size if x.new_size is not None else x.old_size
            names = " -> ".join(_short(d) for d in (x.old_digest, x.new_digest) if d)
            out.append(f"    {_BLOB_MARK[x.status]} {names}  {x.status.value}, {_size(size)}")
    if i.config:
        out.append("  config:")
        for c in i.config:
            out += _config_lines(c)
    out += _sizes_lines(i.sizes)
    out += _files_lines(i, top)
    return [_clip(line) for line in out]


def _files_lines(i: ImageDiff, top: int) -> list[str]:
    f = i.files
    if f is None:
        return [f"  files: {_fit(i.files_note or 'not compared', _WIDTH - 9)}"]
    n = {c: f.count(c) for c in Change}
    head = f"  files: {n[Change.added]} added, {n[Change.removed]} removed, "
    head += f"{n[Change.changed]} changed, {f.unchanged} unchanged"
    shown = sorted(f.changes, key=lambda c: (-c.weight, c.path))[:top]
    more = len(f.changes) - len(shown)
    tail = [f"    … {more} more (--top, or --format json for all)"] if more > 0 else []
    return [head, *map(_file_line, sorted(shown, key=lambda c: c.path)), *tail]


def _delta_line(d: Delta) -> str:
    return (
        f"transfer: {len(d.missing)} of {d.total_blobs} blobs, {human(d.missing_bytes)} of "
        f"{human(d.total_bytes)} ({d.saved:.1%} saved; {d.held} digests held)"
    )


def summary_line(d: ExportDiff, wrap: bool = True) -> str:
    """``summary: differences; images: ...; files: +A -R ~C; send N``: one line, or with
    ``wrap`` two (``files`` on an indented second) when large counts pass ``_WIDTH`` columns."""
    changed = sum(1 for i in d.images if i.differs)
    files = [i.files for i in d.images if i.files is not None]
    total = {c: sum(f.count(c) for f in files) for c in Change}
    head = (
        f"summary: {'differences' if d.differs else 'no differences'}; images: {changed} "
        f"changed, {len(d.images) - changed} same, {len(d.added)} added, {len(d.removed)} "
        "removed;"
    )
    tail = (
        f"files: +{total[Change.added]} -{total[Change.removed]} "
        f"~{total[Change.changed]}; send {human(d.delta.missing_bytes)}"
    )
    line = f"{head} {tail}"
    return line if not wrap or len(line) <= _WIDTH else f"{head}\n  {tail}"


def diff_text(d: ExportDiff) -> str:
    out = [
        f"old: {_fit(d.old_path, _WIDTH - 8 - len(d.old_format))} ({d.old_format})",
        f"new: {_fit(d.new_path, _WIDTH - 8 - len(d.new_format))} ({d.new_format})",
    ]
    for i in d.images:
        out += ["", *_image_lines(i, d.top)]
    for mark, refs in (("added", d.added), ("removed", d.removed)):
        for r in refs:
            out.append(_clip(f"image {mark}: {_name(r)} {_short(r.digest)} {human(r.size)}"))
    out += ["", _delta_line(d.delta)]
    out += [
        f"  + {_short(b.digest)} {human(b.size):>10}  {printable(b.media_type)}"
        for b in d.delta.missing[: d.top]
    ]
    out.append(summary_line(d))
    return "\n".join(out) + "\n"


# ---- markdown ---------------------------------------------------------------------------


def _md(text: str) -> str:
    """A table cell: printable, with the characters markdown reads escaped."""
    return _md_safe(printable(text))


def _md_safe(out: str) -> str:
    """Text already printable, with the characters markdown reads escaped."""
    for ch in "\\`*_[]<>|":
        out = out.replace(ch, "\\" + ch)
    return out


def _md_image(i: ImageDiff, top: int) -> list[str]:
    out = [
        f"## {_md(i.old.name)} → {_md(i.new.name)} ({_md(i.new.platform or 'no platform')})",
        "",
        "| measure | old | new | delta |",
        "| --- | ---: | ---: | ---: |",
    ]
    out += [
        f"| {s.measure} | {_size(s.old)} | {_size(s.new)} | {_signed(s.delta)} |" for s in i.sizes
    ]
    out += ["", "| layer | status | old | new |", "| --- | --- | --- | --- |"]
    out += [
        f"| {_short(x.new_digest or x.old_digest)} | {x.status.value} | "
        f"{_size(x.old_size) if x.old_size is not None else ''} | "
        f"{_size(x.new_size) if x.new_size is not None else ''} |"
        for x in i.layers
    ]
    if i.config:
        out += ["", "| config | old | new |", "| --- | --- | --- |"]
        out += [
            f"| {_md(c.field)} | {_md_safe(_value(c.old))} | {_md_safe(_value(c.new))} |"
            for c in i.config
        ]
    if i.files is not None and i.files.changes:
        shown = sorted(i.files.changes, key=lambda c: (-c.weight, c.path))[:top]
        out += ["", "| path | change | what | size |", "| --- | --- | --- | ---: |"]
        out += [
            f"| {_md(c.path)} | {c.change.value} | {', '.join(a.value for a in c.what)} "
            f"| {c.weight} |"
            for c in sorted(shown, key=lambda c: c.path)
        ]
    elif i.files_note:
        out += ["", f"Files: {_md(i.files_note)}"]
    return [*out, ""]


def diff_markdown(d: ExportDiff) -> str:
    out = [f"# Changes from {_md(d.old_path)} to {_md(d.new_path)}", ""]
    for i in d.images:
        out += _md_image(i, d.top)
    for mark, refs in (("Added", d.added), ("Removed", d.removed)):
        if refs:
            out += [f"## {mark} images", ""]
            out += [f"- {_md(r.name)} {_md(r.platform or '')} `{_short(r.digest)}`" for r in refs]
            out.append("")
    out += [f"**{_md(_delta_line(d.delta))}**", "", _md(summary_line(d, wrap=False)), ""]
    return "\n".join(out)


def problem_lines(problems: Iterable[Problem]) -> list[str]:
    """What verify says of ``problems`` (raw: the caller escapes): each error and warning on
    its line, then one line counting the notices by kind (``report`` lists each)."""
    problems = list(problems)
    lines = [p.line() for p in problems if p.severity is not Severity.NOTICE]
    notices = tally_kinds(p for p in problems if p.severity is Severity.NOTICE)
    if notices:
        kinds = ", ".join(f"{k.value} \u00d7{n}" for k, n in notices.items())
        lines.append(f"notices: {kinds} (see report)")
    return lines


RENDERERS = {"text": diff_text, "json": diff_json, "markdown": diff_markdown}
