"""The JSON contract (documented in the README). Keys are only ever added, never renamed."""

from __future__ import annotations

import json
from typing import Any

from ..analysis import ImageAnalysis, LayerFacts, analyze
from ..errors import Problem
from ..merge import MergeResult
from ..model import Image
from ..sources.base import Export
from ..verify import Verification

SCHEMA_VERSION = 1


def _image(image: Image) -> dict[str, Any]:
    md = image.manifest_descriptor
    return {
        "refs": list(image.refs),
        "kind": image.kind.value,
        "platform": image.platform.to_json() if image.platform else None,
        "manifest_digest": str(md.digest) if md else None,
        "manifest_media_type": (md.media_type or None) if md else None,
        "index_digest": str(image.index_digest) if image.index_digest else None,
        "config_digest": str(image.config_descriptor.digest),
        "created": image.config.created if image.config else None,
        "attests": str(image.attests) if image.attests else None,
        "layers": [
            {"digest": str(d.digest), "media_type": d.media_type, "size": d.size}
            for d in image.layers
        ],
    }


def _problem(p: Problem) -> dict[str, Any]:
    return {
        "kind": p.kind.value,
        "severity": p.severity.value,
        "digest": p.digest,
        "path": p.path,
        "message": p.message,
    }


def _absent(export: Export) -> list[dict[str, Any]]:
    return [
        {
            "refs": list(a.refs),
            "digest": str(a.descriptor.digest),
            "media_type": a.descriptor.media_type,
            "platform": a.descriptor.platform.to_json() if a.descriptor.platform else None,
        }
        for a in export.model.absent
    ]


def inspect_doc(export: Export) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "source": {"path": export.path, "format": export.format.value},
        "images": [_image(img) for img in export.model.images],
        "absent": _absent(export),
        "problems": [_problem(p) for p in export.model.problems],
    }


def _layer(facts: LayerFacts) -> dict[str, Any]:
    s = facts.scan
    tar = s.tar if s else None
    return {
        "digest": str(facts.descriptor.digest),
        "media_type": facts.descriptor.media_type,
        "size": facts.descriptor.size,
        "compression": s.compression.value if s else None,
        "diff_id": str(facts.diff_id) if facts.diff_id else None,
        "uncompressed_size": s.uncompressed_size if s else None,
        "files": tar.files if tar else None,
        "file_bytes": tar.file_bytes if tar else None,
        "disk_bytes": tar.disk_bytes if tar else None,
        "whiteouts": (tar.whiteouts + tar.opaque_whiteouts) if tar else None,
        "entries": tar.entries if tar else None,
        "dirs": tar.dirs if tar else None,
        "symlinks": tar.symlinks if tar else None,
        "hardlinks": tar.hardlinks if tar else None,
        "newest_mtime": tar.newest_mtime if tar else None,
        "verified": facts.verified,
        "chain_id": str(facts.chain_id) if facts.chain_id else None,
        "used_by": facts.used_by,
        "lazy_format": facts.lazy_format,
    }


def _waste(m: MergeResult) -> dict[str, Any]:
    return {
        "merged_files": m.files,
        "merged_file_bytes": m.file_bytes,
        "merged_disk_bytes": m.disk_bytes,
        "wasted_bytes": m.wasted_bytes,
        "wasted_by_layer": list(m.wasted_by_layer),
        "efficiency": round(m.efficiency, 6),
        "largest_wasters": [
            {
                "path": w.path,
                "bytes": w.bytes,
                "copies": w.copies,
                "layer": w.layer,
                "hidden_by_layer": w.by_layer,
                "how": w.how,
            }
            for w in m.wasted
        ],
        "largest_files": [{"path": p, "size": s, "layer": layer} for p, s, layer in m.largest],
        "dangling_whiteouts": [{"layer": layer, "path": p} for layer, p in m.dangling_whiteouts],
    }


def _analysed(entry: dict[str, Any], a: ImageAnalysis) -> None:
    entry["layers"] = [_layer(f) for f in a.layers]
    t = a.totals
    entry["totals"] = {
        "size": t.size,
        "uncompressed_size": t.uncompressed_size,
        "file_bytes": t.file_bytes,
        "disk_bytes": t.disk_bytes,
    }
    entry["waste"] = _waste(a.merge) if a.merge else None


def report_doc(v: Verification, strict: bool = False, top: int = 10) -> dict[str, Any]:
    doc = inspect_doc(v.export)
    analyses = analyze(v.export.model.images, v.scans, v.verified(), top)
    for entry, a in zip(doc["images"], analyses, strict=True):
        _analysed(entry, a)
    doc["ok"] = v.ok(strict)
    doc["problems"] = [_problem(p) for p in v.problems]
    return doc


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2) + "\n"
