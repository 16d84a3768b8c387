"""SARIF 2.1.0 (OASIS standard, errata 01): the problems of a verification for code scanning.

One run; one rule per problem kind (``ruleId`` is the kind's JSON name, its default level its
severity); one result per problem, at level ``error``, ``warning`` or ``note`` (a notice). A
result's location is the export (the path as given, as a URI reference) with the image (its
first name) and the blob (its digest) as logical locations. Strings are kept exact: JSON
escapes what it needs.

The URI is the path's bytes percent-encoded (RFC 3986: a space is ``%20``, a name that was
not UTF-8 keeps its raw bytes), with ``./`` before a relative path whose first segment holds a
colon, so ``a:b.tar`` is not read as the scheme ``a`` (RFC 3986 section 4.2). Each result
carries its fingerprint as ``partialFingerprints`` too: GitHub code scanning matches alerts
across runs by those, and would otherwise try to compute a line hash from the export's bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
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
FINGERPRINT = "ocianalyze/v1"


def path_uri(path: str) -> str:
    """``path`` as a URI reference (see the module docstring): ``h sp.tar`` -> ``h%20sp.tar``,
    ``a:b`` -> ``./a:b``, ``/tmp/x`` -> ``/tmp/x``, ``-`` (standard input) -> ``-``."""
    uri = quote(os.fsencode(path), safe="/:._-~")
    first = uri.split("/", 1)[0]
    return "./" + uri if ":" in first else uri


def _rule(kind: Kind) -> dict[str, Any]:
    """One reportingDescriptor. GitHub code scanning shows ``shortDescription`` and
    ``fullDescription`` atop an alert and ``help`` below it, and asks for all three."""
    words = kind.value.replace("_", " ")
    severity = SEVERITY.get(kind, Severity.ERROR).value
    full = (
        f"ocianalyze problem kind {kind.value} (severity: {severity}); its meaning and why it "
        "has this severity are in the Problem kinds table of ocianalyze's README."
    )
    return {
        "id": kind.value,
        "shortDescription": {"text": words[:1].upper() + words[1:]},
        "fullDescription": {"text": full},
        "help": {"text": full},
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
        "fingerprints": {FINGERPRINT: fingerprint},
        "partialFingerprints": {FINGERPRINT: fingerprint},
    }


def sarif_doc(r: Report) -> dict[str, Any]:
    """The SARIF log of ``r`` as a dict (see the module docstring)."""
    uri = path_uri(r.path)
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
