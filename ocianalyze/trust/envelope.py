"""DSSE envelopes and the in-toto statements they hold (the shapes cosign attestations and
Sigstore bundles use). Parsing only: the signature check is the caller's, over ``pae``.

Sources: DSSE protocol.md (PAE), in-toto attestation spec v1 (Statement: ``_type``,
``subject[].digest``, ``predicateType``).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from ..record import record

IN_TOTO_PAYLOAD = "application/vnd.in-toto+json"
STATEMENT_TYPES = frozenset(
    {"https://in-toto.io/Statement/v0.1", "https://in-toto.io/Statement/v1"}
)


class Malformed(ValueError):
    """The document is not the shape its format requires; the message says what is wrong."""


def loads(data: bytes | str) -> Any:
    """``json.loads`` of untrusted signature material. Raises ValueError (Malformed for JSON
    nested deeper than the interpreter's recursion limit, which ``json`` reports as a
    RecursionError: a hostile document, not a failure of the whole run)."""
    try:
        return json.loads(data)
    except RecursionError:
        raise Malformed("JSON nested too deeply") from None


@record
class Envelope:
    """A DSSE envelope: ``payload`` decoded, its type, and each signature decoded."""

    payload_type: str
    payload: bytes
    signatures: tuple[bytes, ...]

    def pae(self) -> bytes:
        """The bytes a DSSE signature covers: ``DSSEv1 <len> <type> <len> <payload>``."""
        t = self.payload_type.encode()
        return b"DSSEv1 %d %s %d %s" % (len(t), t, len(self.payload), self.payload)


@record
class Statement:
    """An in-toto statement: the sha256 digests of its subjects (``sha256:<hex>``) and its
    predicate type."""

    subjects: tuple[str, ...]
    predicate_type: str | None


def b64(value: Any, what: str) -> bytes:
    """Standard base64 (padding required, as Go's StdEncoding). Raises Malformed."""
    if not isinstance(value, str):
        raise Malformed(f"{what} is not a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise Malformed(f"{what} is not valid base64") from None


def parse_envelope(obj: Any) -> Envelope:
    """A DSSE envelope from its JSON object (``payload`` and ``signatures[].sig`` base64).
    Raises Malformed."""
    if not isinstance(obj, dict):
        raise Malformed("DSSE envelope is not a JSON object")
    sigs = obj.get("signatures")
    if not isinstance(sigs, list) or not sigs:
        raise Malformed("DSSE envelope has no signatures")
    payload_type = obj.get("payloadType")
    if not isinstance(payload_type, str):
        raise Malformed("DSSE envelope has no payloadType")
    return Envelope(
        payload_type,
        b64(obj.get("payload"), "DSSE payload"),
        tuple(b64(s.get("sig") if isinstance(s, dict) else None, "DSSE sig") for s in sigs),
    )


def parse_statement(payload: bytes) -> Statement:
    """The subjects and predicate type of an in-toto statement. Raises Malformed."""
    try:
        obj = loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise Malformed("in-toto statement is not JSON") from None
    if not isinstance(obj, dict) or obj.get("_type") not in STATEMENT_TYPES:
        raise Malformed("not an in-toto statement (unknown _type)")
    subjects = obj.get("subject")
    if not isinstance(subjects, list):
        raise Malformed("in-toto statement has no subject list")
    found = []
    for s in subjects:
        digest = s.get("digest") if isinstance(s, dict) else None
        value = digest.get("sha256") if isinstance(digest, dict) else None
        if isinstance(value, str):
            found.append("sha256:" + value.lower())
    predicate = obj.get("predicateType")
    return Statement(tuple(found), predicate if isinstance(predicate, str) else None)
