"""One signature checked against what the user trusts: the rule shared by cosign signatures,
cosign attestations and key-signed Sigstore bundles.

A signature is *valid* when it verifies over the bytes it signs (with a trusted key, the
certificate it carries, or the key its Rekor entry records); *trusted* when that key is one of
``--key``, or the certificate chains to the trusted root's Fulcio CA at the Rekor entry's time
and names the given identity and issuer (cosign's ``verify --certificate-identity`` rule).
Transparency-log evidence present is checked whenever a trusted root is given; a Rekor entry
that does not verify, or that records another signature, fails the signature whatever else.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from typing import Any

from cryptography import x509

from ..errors import Kind, OciError
from ..model import Image
from ..record import record
from . import Outcome, SignatureFormat, Trust, keys, roots
from .envelope import Malformed, b64, loads


@record
class Context:
    """What the user trusts, loaded once: the PEM keys and the trusted root."""

    trust: Trust
    keys: tuple[keys.PublicKey, ...]
    root: roots.TrustRoot | None

    @classmethod
    def load(cls, trust: Trust) -> Context:
        """Read the key and trusted-root files. Raises ``errors.OciError`` (Unreadable too)."""
        root = roots.load(trust.trusted_root) if trust.trusted_root else None
        return cls(trust, tuple(keys.load_keys(trust.keys)), root)

    @property
    def identity_given(self) -> bool:
        t = self.trust
        return bool(t.identity or t.identity_regexp)

    @property
    def anything(self) -> bool:
        """Whether any key, identity or trusted root was given to check signatures with."""
        return bool(self.keys or self.identity_given or self.root or self.trust.keys)

    def identity_ok(self, names: list[str], issuer: str | None) -> bool:
        t = self.trust
        named = any(roots.matches(n, t.identity, t.identity_regexp) for n in names)
        return named and roots.matches(issuer, t.issuer, t.issuer_regexp)


@record
class Checked:
    """The verdict on one signature before it is tied to the export's bytes.

    ``outcome`` is VERIFIED (valid and trusted), INVALID, UNTRUSTED, NO_TRUST or MALFORMED;
    ``kind`` the problem kind when not VERIFIED and a problem is due."""

    outcome: Outcome
    reason: str
    signer: str | None = None
    tlog: str | None = None
    kind: Kind | None = None


def invalid(reason: str, kind: Kind = Kind.SIGNATURE_INVALID, **kw: Any) -> Checked:
    outcome = Outcome.MALFORMED if "malformed" in reason else Outcome.INVALID
    return Checked(outcome, reason, kind=kind, **kw)


def untrusted(reason: str, **kw: Any) -> Checked:
    return Checked(Outcome.UNTRUSTED, reason, kind=Kind.SIGNATURE_UNTRUSTED, **kw)


@record
class Material:
    """One signature and what comes with it.

    ``signed``: the bytes the signature covers (a cosign payload, a DSSE PAE);
    ``payload_sha256``: the hex sha256 a Rekor entry records for it (the payload itself);
    ``cert_pem``/``chain_pem``: cosign's certificate and chain annotations;
    ``rekor``: cosign's Rekor bundle annotation, parsed (``SignedEntryTimestamp``, ``Payload``).
    """

    signed: bytes
    signatures: tuple[bytes, ...]
    payload_sha256: str
    cert_pem: str | None = None
    chain_pem: str | None = None
    rekor: dict[str, Any] | None = None


def check(m: Material, ctx: Context) -> Checked:
    """The verdict on ``m`` (see the module's rule). Never raises on bad input: a certificate
    whose extensions cannot be parsed (cryptography parses them lazily) is malformed."""
    try:
        return _check(m, ctx)
    except ValueError as exc:
        return invalid(f"malformed certificate or key: {exc}")


def _check(m: Material, ctx: Context) -> Checked:
    cert = chain = None
    if m.cert_pem:
        try:
            cert = x509.load_pem_x509_certificate(m.cert_pem.encode())
            chain = (
                list(x509.load_pem_x509_certificates(m.chain_pem.encode())) if m.chain_pem else []
            )
        except ValueError:
            return invalid("malformed certificate annotation")
    tlog, when, recorded_key, problem = _tlog(m, cert, ctx)
    if problem is not None:
        return problem
    for key in ctx.keys:
        if any(key.verifies(s, m.signed) for s in m.signatures):
            return _required_tlog(
                Checked(Outcome.VERIFIED, "signed by a given key", key.fingerprint, tlog), ctx
            )
    if cert is not None:
        return _by_certificate(m, cert, chain or [], when, tlog, ctx)
    if recorded_key is not None and any(
        keys.verify(recorded_key, s, m.signed) for s in m.signatures
    ):
        return untrusted(
            "signed by a key that was not given", signer=keys.fingerprint(recorded_key), tlog=tlog
        )
    if not ctx.keys:
        if not ctx.anything:
            return Checked(Outcome.NO_TRUST, "no key, identity or trusted root given", tlog=tlog)
        return untrusted("signed with a key; no --key given to check it", tlog=tlog)
    return invalid("does not verify with the given key(s)", tlog=tlog)


def _required_tlog(c: Checked, ctx: Context) -> Checked:
    if c.outcome is Outcome.VERIFIED and ctx.trust.require_tlog and c.tlog is None:
        return untrusted("no transparency-log evidence (--require-tlog)", signer=c.signer)
    return c


def _by_certificate(
    m: Material,
    cert: x509.Certificate,
    chain: list[x509.Certificate],
    when: dt.datetime | None,
    tlog: str | None,
    ctx: Context,
) -> Checked:
    names, issuer = roots.identity(cert)
    signer = f"{names[0] if names else '(no identity)'} ({issuer or 'no issuer'})"
    if not any(keys.verify(cert.public_key(), s, m.signed) for s in m.signatures):
        return invalid("does not verify with its certificate's key", signer=signer, tlog=tlog)
    if ctx.root is None:
        if not ctx.anything:
            return Checked(Outcome.NO_TRUST, "no trusted root given", signer, tlog)
        return untrusted(
            "keyless: no --trusted-root to check the certificate", signer=signer, tlog=tlog
        )
    if when is None:
        return untrusted(
            "keyless without a transparency-log time to check the certificate at", signer=signer
        )
    why = roots.verify_chain(ctx.root, cert, chain, when)
    if why is not None:
        return untrusted(why, signer=signer, tlog=tlog)
    if not ctx.identity_given:
        return untrusted("no --certificate-identity given", signer=signer, tlog=tlog)
    if not ctx.identity_ok(names, issuer):
        return untrusted(
            "certificate identity or issuer is not the one given", signer=signer, tlog=tlog
        )
    return _required_tlog(Checked(Outcome.VERIFIED, "keyless, identity matches", signer, tlog), ctx)


def _tlog(
    m: Material, cert: x509.Certificate | None, ctx: Context
) -> tuple[str | None, dt.datetime | None, Any, Checked | None]:
    """The Rekor bundle annotation checked: (evidence name, integrated time, the public key
    the entry records, a failing verdict or None)."""
    if m.rekor is None:
        return None, None, None, None
    try:
        set_sig = b64(m.rekor.get("SignedEntryTimestamp"), "SignedEntryTimestamp")
        payload = m.rekor.get("Payload")
        if not isinstance(payload, dict):
            raise Malformed("Rekor bundle has no Payload")
        body = loads(b64(payload.get("body"), "Rekor body"))
        hashes_, sigs, pems = _recorded(body)
    except (Malformed, ValueError, AttributeError, TypeError, KeyError) as exc:
        return None, None, None, invalid(f"malformed Rekor bundle: {exc!r}", Kind.TLOG_INVALID)
    recorded_key = _key_of(pems)
    name = f"rekor SET (log index {payload.get('logIndex')})"
    if m.payload_sha256 not in hashes_ or not _ours(m.signatures, sigs):
        return (
            None,
            None,
            None,
            invalid("the Rekor entry records another signature or payload", Kind.TLOG_INVALID),
        )
    if cert is not None and pems and not any(_same_cert(p, cert) for p in pems):
        return (
            None,
            None,
            None,
            invalid("the Rekor entry records another certificate", Kind.TLOG_INVALID),
        )
    if ctx.root is None:
        return None, None, recorded_key, None  # nothing to check it with: not evidence
    why = roots.verify_set(ctx.root, set_sig, payload)
    if why is not None:
        return None, None, None, invalid(why, Kind.TLOG_INVALID)
    when = dt.datetime.fromtimestamp(payload["integratedTime"], dt.timezone.utc)
    return name, when, recorded_key, None


def _recorded(body: dict[str, Any]) -> tuple[set[str], set[str], list[bytes]]:
    """What a Rekor entry body records: payload sha256 hashes (hex), signatures (base64, as
    written) and public keys or certificates (PEM). Kinds: hashedrekord 0.0.1, dsse 0.0.1,
    intoto 0.0.2 (whose envelope signatures are base64 twice)."""
    spec = body["spec"]
    kind = body.get("kind")
    if kind == "hashedrekord":
        sig = spec["signature"]
        return (
            {spec["data"]["hash"]["value"]},
            {sig["content"]},
            [b64(sig["publicKey"]["content"], "key")],
        )
    if kind == "dsse":
        sigs = spec.get("signatures") or []
        pems = [b64(s["verifier"], "verifier") for s in sigs if "verifier" in s]
        return {spec["payloadHash"]["value"]}, {s["signature"] for s in sigs}, pems
    if kind == "intoto":
        content = spec["content"]
        sigs = content["envelope"].get("signatures") or []
        decoded = {b64(s["sig"], "sig").decode() for s in sigs}
        pems = [b64(s["publicKey"], "key") for s in sigs if "publicKey" in s]
        return {content["payloadHash"]["value"]}, decoded, pems
    raise Malformed(f"unsupported Rekor entry kind {kind!r}")


def _ours(signatures: tuple[bytes, ...], recorded: set[str]) -> bool:
    return any(base64.b64encode(s).decode() in recorded for s in signatures)


def _key_of(pems: list[bytes]) -> Any:
    for pem in pems:
        try:
            return keys.parse_pem(pem, "rekor")
        except OciError:  # a certificate, or nothing we read: no recorded key
            continue
    return None


def _same_cert(pem: bytes, cert: x509.Certificate) -> bool:
    try:
        return x509.load_pem_x509_certificate(pem) == cert
    except ValueError:
        return False


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@record
class Found:
    """A signature or attestation found, checked, not yet tied to the export's bytes.

    ``attached``: the digest it sits on (a ``sha256-<hex>.sig`` tag, a referrer's subject),
    when the export says; ``subjects``: the digests its payload names (``sha256:<hex>``);
    ``carrier``: the export's manifest that holds it (None for a ``--bundle`` file), whose
    bytes and blobs must have verified too for it to count."""

    format: SignatureFormat
    checked: Checked
    source: str
    attached: str | None
    subjects: tuple[str, ...]
    predicate_type: str | None = None
    reference: str | None = None
    carrier: Image | None = None


def malformed(fmt: SignatureFormat, why: str, source: str, attached: str | None) -> Found:
    return Found(fmt, invalid(f"malformed: {why}"), source, attached, ())
