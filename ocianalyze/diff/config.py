"""The config level of a diff: the runtime fields of two image configs, compared.

The model's ImageConfig keeps what verification needs (diff_ids, history, cmd, entrypoint);
the other runtime fields (OCI image-spec config.md: ``config.Env``, ``Labels``, ``User``,
``ExposedPorts``, ``WorkingDir``, ``Volumes``) are read here from the config blob's own bytes,
which the export serves again as metadata (read_small: at most 16 MiB, kept in memory even
from a one-pass stream). Fields of the wrong JSON type are left out, not errors: verification
judges the config, the diff only compares it.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import OciError
from ..model import Image, load_json
from ..sources.base import Export, read_small
from .result import ConfigChange

Fields = dict[str, str | list[str] | None]


def _strings(value: Any) -> list[str] | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _keys(value: Any) -> list[str] | None:
    return sorted(value) if isinstance(value, dict) and value else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def fields_of(document: Any) -> Fields:
    """The compared fields of one config document (a parsed JSON object): ``cmd``,
    ``entrypoint``, ``user``, ``workdir``, ``exposed_ports``, ``volumes``, ``history`` and one
    ``env.NAME`` and ``label.NAME`` per variable and label."""
    doc = document if isinstance(document, dict) else {}
    run: dict[str, Any] = doc["config"] if isinstance(doc.get("config"), dict) else {}
    out: Fields = {
        "cmd": _strings(run.get("Cmd")),
        "entrypoint": _strings(run.get("Entrypoint")),
        "user": _text(run.get("User")),
        "workdir": _text(run.get("WorkingDir")),
        "exposed_ports": _keys(run.get("ExposedPorts")),
        "volumes": _keys(run.get("Volumes")),
    }
    history = doc.get("history")
    if isinstance(history, list):
        out["history"] = [
            str(h.get("created_by", "")) for h in history if isinstance(h, dict)
        ] or None
    for item in _strings(run.get("Env")) or []:
        name, _, value = item.partition("=")
        out[f"env.{name}"] = value
    labels = run.get("Labels")
    if isinstance(labels, dict):
        for name, value in labels.items():
            out[f"label.{name}"] = value if isinstance(value, str) else json.dumps(value)
    return out


def read_fields(export: Export, image: Image) -> Fields:
    """The compared fields of ``image``'s config, read from the export (an unreadable or
    malformed config gives the few fields the model parsed: verification reports it)."""
    digest = image.config_descriptor.digest
    name = export.locations.get(digest)
    try:
        data = read_small(export.storage, name) if name else None
        if data is not None:
            return fields_of(load_json(data, f"{export.path}: {digest}"))
    except (OciError, OSError):
        pass
    cfg = image.config
    return fields_of(
        {
            "config": {
                "Cmd": list(cfg.cmd) if cfg and cfg.cmd is not None else None,
                "Entrypoint": list(cfg.entrypoint) if cfg and cfg.entrypoint is not None else None,
            },
            "history": [{"created_by": h.created_by or ""} for h in cfg.history] if cfg else None,
        }
    )


def compare_config(old: Fields, new: Fields) -> tuple[ConfigChange, ...]:
    """Every field whose value differs, in a stable order: the fixed fields, then variables
    and labels by name."""
    names = sorted(set(old) | set(new), key=lambda n: ("." in n, n))
    return tuple(ConfigChange(n, old.get(n), new.get(n)) for n in names if old.get(n) != new.get(n))
