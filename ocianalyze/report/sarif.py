"""SARIF 2.1.0 (OASIS standard, errata 01): the problems of a verification for code scanning.

One run; one rule per problem kind (``ruleId`` is the kind's JSON name, its default level its
severity); one result per problem, at level ``error``, ``warning`` or ``note`` (a notice). A
result's location is the export (the path as given, as a URI reference) with the image (its
first name) and the blob (its digest) as logical locations. Strings are kept exact: JSON
escapes what it needs.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import quote

from .. import __version__
from ..analysis import Report
from ..errors import SEVERITY, Kind, Problem, Severity

SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTICE: "note"}
_KINDS = list(Kind)


def _rule(kind: Kind) -> dict[str, Any]:
    words = kind.value.replace("_", " ")
    return {
        "id": kind.value,
        "shortDescription": {"text": words[:1].upper() + words[1:]},
        "defaultConfiguration": {"level": LEVEL[SEVERITY.get(kind, Severity.ERROR)]},
        "properties": {"severity": SEVERITY.get(kind, Severity.ERROR).value},
    }


def _result(p: Problem, uri: str) -> dict[str, Any]:
    logical = []
    if p.path:
        logical.append({"name": p.path, "kind": "image"})
    if p.digest:
        name = f"{p.path}@{p.digest}" if p.path else p.digest
        logical.append({"name": p.digest, "fullyQualifiedName": name, "kind": "blob"})
    location: dict[str, Any] = {"physicalLocation": {"artifactLocation": {"uri": uri}}}
    if logical:
        location["logicalLocations"] = logical
    identity = "\0".join((p.kind.value, p.digest or "", p.path, p.message))
    fingerprint = hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()
    return {
        "ruleId": p.kind.value,
        "ruleIndex": _KINDS.index(p.kind),
        "level": LEVEL[p.severity],
        "message": {"text": p.message},
        "locations": [location],
        "fingerprints": {"ocianalyze/v1": fingerprint},
    }


def sarif_doc(r: Report) -> dict[str, Any]:
    """The SARIF log of ``r`` as a dict (see the module docstring)."""
    uri = quote(r.path, safe="/:._-~")
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "ocianalyze",
                        "version": __version__,
                        "rules": [_rule(k) for k in _KINDS],
                    }
                },
                "artifacts": [{"location": {"uri": uri}}],
                "results": [_result(p, uri) for p in r.problems],
            }
        ],
    }


def render(r: Report) -> str:
    """Strict JSON, two-space indent, a newline."""
    return json.dumps(sarif_doc(r), indent=2, allow_nan=False) + "\n"
