"""Renderers for `footprint`: a table per platform and the bundle's totals."""

from __future__ import annotations

import json
from typing import Any

from ..footprint import Footprint
from .escape import printable
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
        "layers": [
            {
                "diff_id": str(x.diff_id),
                "disk_bytes": x.disk_bytes,
                "images": x.images,
                "platforms": list(x.platforms),
            }
            for x in fp.layers
        ],
        "bundle": {
            "size": fp.bundle_size,
            "uncompressed_size": fp.bundle_uncompressed_size,
            "disk_bytes": fp.bundle_disk_bytes,
        },
    }


def footprint_json(fp: Footprint) -> str:
    return json.dumps(footprint_doc(fp), indent=2, allow_nan=False) + "\n"


_ROW = "{:<22} {:>9} {:>12} {:>9} {:>9} {:>9} {:>6}"


def _platform_rows(fp: Footprint) -> list[str]:
    rows = [
        _ROW.format("platform", "stored", "uncompressed", "on disk", "shared", "unique", "images")
    ]
    for p in fp.platforms:
        rows.append(
            _ROW.format(
                _clip(p.platform, 22),
                human(p.size),
                human(p.uncompressed_size),
                human(p.disk_bytes),
                human(p.shared_disk_bytes),
                human(p.unique_disk_bytes),
                len(p.images),
            )
        )
    rows.append(
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
    return rows


def footprint_text(fp: Footprint) -> str:
    lines = _platform_rows(fp)
    lines += ["", "images:"]
    lines += [
        f"  {_clip(p.platform, 22):<22} {_clip(', '.join(p.images), 74)}" for p in fp.platforms
    ]
    shared = [x for x in fp.layers if x.images > 1]
    if shared:
        lines += ["", "layers used by several images:"]
        lines += [
            f"  {x.diff_id.encoded[:19]}  {human(x.disk_bytes):>9} on disk  "
            f"{x.images:>3} images  {_clip(', '.join(x.platforms), 40)}"
            for x in shared
        ]
    if fp.others:
        lines += ["", "not platforms (attestations, signatures, artifacts):"]
        lines += [
            f"  {_clip(o.kind, 12):<12} {human(o.size):>9}  {_clip(o.name, 72)}" for o in fp.others
        ]
    return "\n".join(lines) + "\n"


def _clip(text: str, width: int) -> str:
    text = printable(text)
    return text if len(text) <= width else text[: width - 3] + "..."
