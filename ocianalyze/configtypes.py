"""The image config's field types, as Go's encoding/json enforces them when Docker and
containerd read a config (image-spec ``specs-go/v1/config.go``: ``Image``, ``ImageConfig``,
``RootFS``, ``History``).

A config whose ``Env`` holds a number, whose ``Labels`` map to a list, or whose ``created`` is
not an RFC 3339 time cannot be unmarshalled: ``docker load`` and containerd's unpacker refuse
the image. Such a config is therefore bad metadata here too, even where the few fields this
tool reads are fine. What Go accepts is accepted: ``null`` for any field (it leaves the zero
value), unknown fields, and keys that match a field's name only case-insensitively (Go's
fallback match, bytes.EqualFold: ASCII case, and the two letters whose case folding reaches
ASCII, the long s U+017F and the Kelvin sign U+212A).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from .errors import BadManifest

_Check = Callable[[Any], bool]


def _string(v: Any) -> bool:
    return v is None or isinstance(v, str)


def _bool(v: Any) -> bool:
    return v is None or isinstance(v, bool)


def _strings(v: Any) -> bool:
    return v is None or (isinstance(v, list) and all(map(_string, v)))


def _string_map(v: Any) -> bool:
    return v is None or (isinstance(v, dict) and all(map(_string, v.values())))


def _set(v: Any) -> bool:
    """``map[string]struct{}``: each value an object (its members are ignored) or null."""
    return v is None or (
        isinstance(v, dict) and all(x is None or isinstance(x, dict) for x in v.values())
    )


# RFC 3339 as Go's time.Time.UnmarshalJSON has parsed it strictly since Go 1.20: a "T", a
# fraction after "." only, "Z" or a numeric offset; the ranges are checked below.
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:Z|[+-](\d{2}):(\d{2}))",
    re.ASCII,
)


def _time(v: Any) -> bool:
    if v is None:
        return True
    m = _RFC3339.fullmatch(v) if isinstance(v, str) else None
    if m is None:
        return False
    year, month, day, hour, minute, second, zh, zm = (int(g or 0) for g in m.groups())
    if not 1 <= month <= 12:
        return False
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    days = 29 if month == 2 and leap else _DAYS[month - 1]
    return 1 <= day <= days and hour < 24 and minute < 60 and second < 60 and zh < 24 and zm < 60


_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _struct(fields: Mapping[str, _Check]) -> _Check:
    """An object whose known fields (matched as Go matches them) each pass their check."""
    folded = {_fold(name): check for name, check in fields.items()}

    def check(v: Any) -> bool:
        if v is None:
            return True
        if not isinstance(v, dict):
            return False
        for key, value in v.items():
            field = fields.get(key) or folded.get(_fold(key))
            if field is not None and not field(value):
                raise _FieldError(key)
        return True

    return check


def _fold(key: str) -> str:
    """``key`` as Go's encoding/json matches it to a field name when the case differs
    (bytes.EqualFold): str.lower folds ASCII and takes the Kelvin sign to "k", but leaves
    the long s, which folds with "s" in Go."""
    return key.lower().replace("\u017f", "s")


class _FieldError(Exception):
    """A field that does not unmarshal: its key, innermost first when nested."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _list_of(item: _Check) -> _Check:
    def check(v: Any) -> bool:
        return v is None or (isinstance(v, list) and all(map(item, v)))

    return check


_RUN_CONFIG = _struct(
    {
        "User": _string,
        "ExposedPorts": _set,
        "Env": _strings,
        "Entrypoint": _strings,
        "Cmd": _strings,
        "Volumes": _set,
        "WorkingDir": _string,
        "Labels": _string_map,
        "StopSignal": _string,
        "ArgsEscaped": _bool,
    }
)
_HISTORY = _struct(
    {
        "created": _time,
        "created_by": _string,
        "author": _string,
        "comment": _string,
        "empty_layer": _bool,
    }
)
_IMAGE = _struct(
    {
        "created": _time,
        "author": _string,
        "architecture": _string,
        "os": _string,
        "os.version": _string,
        "os.features": _strings,
        "variant": _string,
        "config": _RUN_CONFIG,
        "rootfs": _struct({"type": _string, "diff_ids": _strings}),
        "history": _list_of(_HISTORY),
    }
)


def check_config_types(config: Mapping[str, Any], where: str) -> None:
    """Raise BadManifest (naming the field) when ``config``, a parsed image config object,
    has a field Go's encoding/json cannot unmarshal into the image-spec types."""
    try:
        ok = _IMAGE(dict(config))
        key = "config"
    except _FieldError as exc:
        ok, key = False, exc.key
    if not ok:
        raise BadManifest(
            where, f"config field {key!r} has the wrong type (Docker and containerd refuse it)"
        )
