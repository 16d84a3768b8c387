"""Sigstore's ``trusted_root.json`` (``--trusted-root``): the Rekor log keys and the Fulcio
certificate authorities, and the checks that use them: a Rekor signed entry timestamp (SET),
a Fulcio certificate chain at a given time, a certificate's identity and OIDC issuer.

Sources: sigstore protobuf-specs ``TrustedRoot``; Rekor's SET is an ECDSA signature by the
log key over the RFC 8785 JSON of ``{body, integratedTime, logID, logIndex}`` (as cosign's
``VerifySET``); Fulcio's certificate extensions (fulcio docs/oid-info.md): the issuer is
``1.3.6.1.4.1.57264.1.8`` (DER UTF8String) or, older, ``1.3.6.1.4.1.57264.1.1`` (raw).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_der_public_key

from ..errors import OciError
from ..record import field, record
from . import keys
from .envelope import Malformed, b64, loads

_MAX_ROOT = 16 << 20  # bytes read of a trusted_root.json

_ISSUER_V1 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
_ISSUER_V2 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
_OTHERNAME_SAN = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.7")


@record
class LogKey:
    key: Any
    start: dt.datetime | None
    end: dt.datetime | None


@record
class TrustRoot:
    """What a trusted root file holds that this package checks: Rekor keys by log ID (the
    sha256 of the key's DER) and the Fulcio CA certificates."""

    path: str
    logs: dict[bytes, LogKey] = field(default_factory=dict)
    fulcio: tuple[x509.Certificate, ...] = ()


def load(path: str) -> TrustRoot:
    """Read a trusted_root.json. Raises ``errors.Unreadable`` or ``errors.OciError``."""
    from .files import read_given

    data = read_given(path, _MAX_ROOT, "a Sigstore trusted root")  # the public good one: ~10 KB
    try:
        doc = loads(data)
    except Malformed as exc:
        raise OciError(path, f"not a Sigstore trusted root: {exc}") from None
    except (ValueError, UnicodeDecodeError):
        raise OciError(path, "not a Sigstore trusted root: not JSON") from None
    try:
        return _parse(path, doc)
    except (Malformed, ValueError, TypeError, AttributeError, KeyError) as exc:
        raise OciError(path, f"not a Sigstore trusted root: {exc!r}") from None


def _parse(path: str, doc: Any) -> TrustRoot:
    logs = {}
    for tlog in doc.get("tlogs") or []:
        pk = tlog["publicKey"]
        valid = pk.get("validFor") or {}
        logs[b64(tlog["logId"]["keyId"], "logId")] = LogKey(
            load_der_public_key(b64(pk["rawBytes"], "publicKey")),
            _time(valid.get("start")),
            _time(valid.get("end")),
        )
    fulcio = [
        x509.load_der_x509_certificate(b64(c["rawBytes"], "certificate"))
        for ca in doc.get("certificateAuthorities") or []
        for c in ca["certChain"]["certificates"]
    ]
    return TrustRoot(path, logs, tuple(fulcio))


def _time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def canonical_set_payload(payload: dict[str, Any]) -> bytes:
    """The bytes a SET covers: the four fields, keys sorted, no spaces (RFC 8785 for them)."""
    fields = {k: payload.get(k) for k in ("body", "integratedTime", "logID", "logIndex")}
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


def verify_set(root: TrustRoot, set_sig: bytes, payload: dict[str, Any]) -> str | None:
    """None when ``set_sig`` is the SET of a log of ``root`` over ``payload`` (a Rekor
    bundle's ``Payload``), valid at its integrated time; else why not."""
    try:
        log_id = bytes.fromhex(str(payload.get("logID")))
    except ValueError:
        return "the Rekor entry's logID is not hex"
    log = root.logs.get(log_id)
    if log is None:
        return "the Rekor entry names a log the trusted root does not hold"
    when = payload.get("integratedTime")
    if not isinstance(when, int):
        return "the Rekor entry has no integratedTime"
    at = dt.datetime.fromtimestamp(when, dt.timezone.utc)
    if (log.start and at < log.start) or (log.end and at > log.end):
        return "the Rekor entry's time is outside the log key's validity"
    if not keys.verify(log.key, set_sig, canonical_set_payload(payload)):
        return "the Rekor signed entry timestamp does not verify with the log's key"
    return None


def verify_chain(
    root: TrustRoot, cert: x509.Certificate, chain: list[x509.Certificate], at: dt.datetime
) -> str | None:
    """None when ``cert`` chains to a Fulcio CA of ``root`` at time ``at`` (code signing
    certificates: the client-auth EKU rule is lifted, as sigstore-python does)."""
    from cryptography.x509.verification import (
        Criticality,
        ExtensionPolicy,
        PolicyBuilder,
        Store,
        VerificationError,
    )

    if not root.fulcio:
        return "the trusted root holds no certificate authority"
    ca = ExtensionPolicy.webpki_defaults_ca().may_be_present(
        x509.ExtendedKeyUsage, Criticality.NON_CRITICAL, None
    )
    ee = ExtensionPolicy.webpki_defaults_ee().may_be_present(
        x509.ExtendedKeyUsage, Criticality.NON_CRITICAL, None
    )
    verifier = (
        PolicyBuilder()
        .store(Store(list(root.fulcio)))
        .time(at)
        .extension_policies(ca_policy=ca, ee_policy=ee)
        .build_client_verifier()
    )
    try:
        verifier.verify(cert, chain)
    except (VerificationError, x509.UnsupportedGeneralNameType, ValueError) as exc:
        return f"the certificate does not chain to the trusted root: {exc}"
    return None


def identity(cert: x509.Certificate) -> tuple[list[str], str | None]:
    """A Fulcio certificate's identities (SAN emails, URIs, Sigstore other names) and issuer."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        names: list[str] = []
    else:
        names = [*san.get_values_for_type(x509.RFC822Name)]
        names += san.get_values_for_type(x509.UniformResourceIdentifier)
        names += [
            _utf8(o.value) or ""
            for o in san.get_values_for_type(x509.OtherName)
            if o.type_id == _OTHERNAME_SAN
        ]
    return names, _issuer(cert)


def _issuer(cert: x509.Certificate) -> str | None:
    for oid, der in ((_ISSUER_V2, True), (_ISSUER_V1, False)):
        try:
            ext = cert.extensions.get_extension_for_oid(oid).value
        except x509.ExtensionNotFound:
            continue
        raw = getattr(ext, "value", b"")
        return _utf8(raw) if der else raw.decode("utf-8", "replace")
    return None


def _utf8(der: bytes) -> str | None:
    """A DER UTF8String's text (short or long length form)."""
    if len(der) < 2 or der[0] != 0x0C:
        return None
    n, at = der[1], 2
    if n & 0x80:
        width = n & 0x7F
        n, at = int.from_bytes(der[2 : 2 + width], "big"), 2 + width
    return der[at : at + n].decode("utf-8", "replace")


def matches(value: str | None, exact: str | None, pattern: str | None) -> bool:
    """``value`` equals ``exact`` when given and fully matches ``pattern`` when given."""
    if exact is not None and value != exact:
        return False
    return pattern is None or (value is not None and re.fullmatch(pattern, value) is not None)
