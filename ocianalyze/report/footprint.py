"""Renderers for `footprint`: a table per platform and the bundle's totals."""

from __future__ import annotations

import json
from typing import Any

from ..footprint import Footprint
from .units import human


def footprint_doc(fp: Footprint) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "platforms": [
            {
                "platform": p.platform,
                "images": list(p.images),
                "size": p.size,
                "uncompressed_size": p.uncompressed_size,
                "disk_bytes": p.disk_bytes,
                "shared_disk_bytes": p.shared_disk_bytes,
                "unique_disk_bytes": p.unique_disk_bytes,
            }
            for p in fp.platforms
        ],
        "others": [{"kind": o.kind, "name": o.name, "size": o.size} for o in fp.others],
        "bundle": {
            "size": fp.bundle_size,
            "uncompressed_size": fp.bundle_uncompressed_size,
            "disk_bytes": fp.bundle_disk_bytes,
        },
    }


def footprint_json(fp: Footprint) -> str:
    return json.dumps(footprint_doc(fp), indent=2) + "\n"


_ROW = "{:<22} {:>10} {:>13} {:>10} {:>10} {:>10}  {}"


def footprint_text(fp: Footprint) -> str:
    lines = [
        _ROW.format("platform", "stored", "uncompressed", "on disk", "shared", "unique", "images")
    ]
    for p in fp.platforms:
        lines.append(
            _ROW.format(
                p.platform[:22],
                human(p.size),
                human(p.uncompressed_size),
                human(p.disk_bytes),
                human(p.shared_disk_bytes),
                human(p.unique_disk_bytes),
                ", ".join(p.images)[:40],
            )
        )
    lines.append(
        _ROW.format(
            "bundle (deduplicated)",
            human(fp.bundle_size),
            human(fp.bundle_uncompressed_size),
            human(fp.bundle_disk_bytes),
            "",
            "",
            "",
        )
    )
    if fp.others:
        lines += ["", "not platforms (attestations, signatures, artifacts):"]
        lines += [f"  {o.kind:<12} {human(o.size):>10}  {o.name}" for o in fp.others]
    return "\n".join(lines) + "\n"
