"""The JSON contract (documented in the README). Keys are only ever added, never renamed.

Strings are kept exact (json escapes what needs it); numbers are strict JSON: a float that is
not finite (a tar's NaN mtime) is written as null, never as NaN or Infinity.
"""

from __future__ import annotations

import json
import math
from typing import Any

from ..analysis import ImageAnalysis, LayerFacts, Report
from ..errors import Problem, tally
from ..merge import MergeResult
from ..model import ExportModel, Image
from ..trust.result import to_json

# 2: verify/report documents gain "signatures" (top level and per image), "signed" per image
# and "trust_notes" (null unless a signature option was given).
SCHEMA_VERSION = 2


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
        "count": p.count,
        "digest": p.digest,
        "path": p.path,
        "message": p.message,
    }


def _absent(model: ExportModel) -> list[dict[str, Any]]:
    return [
        {
            "refs": list(a.refs),
            "digest": str(a.descriptor.digest),
            "media_type": a.descriptor.media_type,
            "platform": a.descriptor.platform.to_json() if a.descriptor.platform else None,
        }
        for a in model.absent
    ]


def _finite(value: float | None) -> float | None:
    return value if value is None or math.isfinite(value) else None


def inspect_doc(r: Report) -> dict[str, Any]:
    """`inspect --format json`: the images, absent manifests and problems, no measurement."""
    return {
        "schema_version": SCHEMA_VERSION,
        "source": {"path": r.path, "format": r.format},
        "images": [_image(img) for img in r.model.images],
        "absent": _absent(r.model),
        "problems": [_problem(p) for p in r.problems],
        "counts": {s.value: n for s, n in tally(r.problems).items()},
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
        "newest_mtime": _finite(tar.newest_mtime) if tar else None,
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
        "efficiency": _finite(round(m.efficiency, 6)),
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


def report_doc(r: Report) -> dict[str, Any]:
    """`verify`/`report --format json`: the inspect document, each image measured, the verdict."""
    doc = inspect_doc(r)
    for entry, a in zip(doc["images"], r.images, strict=True):
        _analysed(entry, a)
    _signatures(doc, r)
    doc["ok"] = r.ok
    doc["unreferenced"] = list(r.unreferenced)
    return doc


def _signatures(doc: dict[str, Any], r: Report) -> None:
    """Signature evidence: null everywhere when no signature option was given."""
    t = r.trust
    doc["signatures"] = [to_json(e) for e in t.evidence] if t else None
    doc["trust_notes"] = list(t.notes) if t else None
    for entry, image in zip(doc["images"], r.model.images, strict=True):
        evidence, signed = t.of(r.model.images, image) if t else ((), False)
        entry["signatures"] = [to_json(e) for e in evidence] if t else None
        entry["signed"] = signed if t else None


def render(doc: dict[str, Any]) -> str:
    """Strict JSON (``allow_nan=False``: NaN is no JSON value), two-space indent, a newline."""
    return json.dumps(doc, indent=2, allow_nan=False) + "\n"


def report_json(r: Report) -> str:
    """The JSON document of ``r``: the inspect form for metadata, the full one once verified."""
    return render(report_doc(r) if r.verified else inspect_doc(r))
