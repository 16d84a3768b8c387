"""Sigstore bundles (v0.1-v0.3 JSON): as OCI 1.1 referrers in an export (a manifest whose
``subject`` is the signed manifest and whose layer is the bundle, as cosign 3 writes them) and
as files given with ``--bundle`` (``cosign sign --bundle FILE --upload=false``).

A bundle with a certificate is verified by the ``sigstore`` library, offline, against the
``--trusted-root`` given (chain, SCT, timestamps, Rekor inclusion proof and checkpoint or SET,
log-entry consistency); the identity and issuer are then compared here, so a valid bundle from
someone else is *untrusted*, not *invalid*. A bundle with a public key is verified here with
``--key`` (the Rekor entry, when a trusted root is given, by the library's log-entry check).

``verify_artifact`` is the bare-artifact check (the bundle against the sha256 of one file or
one manifest); the export and ``--bundle`` checks are built on it.

Sources: sigstore protobuf-specs ``Bundle``; sigstore-conformance ``bundle-verify`` cases.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Iterator
from typing import Any

from ..errors import Kind
from ..model import Image
from ..record import record, replace
from ..sources import Export
from . import Outcome, SignatureFormat, keys, roots
from .cosign import read_blob
from .envelope import Envelope, Malformed, b64, loads, parse_envelope, parse_statement
from .material import Checked, Context, Found, _recorded, invalid, sha256_hex, untrusted

MEDIA_PREFIX = "application/vnd.dev.sigstore.bundle"


@record
class Claims:
    """What a bundle says it signs: the sha256 digests (``sha256:<hex>``) and, for an
    attestation, the in-toto predicate type."""

    subjects: tuple[str, ...]
    predicate_type: str | None
    envelope: Envelope | None


def claims(doc: Any) -> Claims:
    """The subjects of a parsed bundle. Raises Malformed."""
    if not isinstance(doc, dict):
        raise Malformed("a bundle is a JSON object")
    if "dsseEnvelope" in doc:
        envelope = parse_envelope(doc["dsseEnvelope"])
        statement = parse_statement(envelope.payload)
        return Claims(statement.subjects, statement.predicate_type, envelope)
    sig = doc.get("messageSignature")
    if not isinstance(sig, dict):
        raise Malformed("a bundle holds a messageSignature or a dsseEnvelope")
    md = sig.get("messageDigest")
    if isinstance(md, dict) and md.get("algorithm") == "SHA2_256":
        return Claims(("sha256:" + b64(md.get("digest"), "messageDigest").hex(),), None, None)
    return Claims((), None, None)


def verify_artifact(data: bytes, artifact_sha256: str, ctx: Context) -> tuple[Checked, Claims]:
    """Check the bundle ``data`` as a signature of the artifact whose sha256 is
    ``artifact_sha256`` (hex). The verdict is VERIFIED only when the bundle is valid, from the
    given trust, and signs that artifact (else MISMATCH when valid but for another digest).
    Never raises on bad input."""
    try:
        doc = loads(data)
        found = claims(doc)
    except (ValueError, UnicodeDecodeError, Malformed) as exc:
        return invalid(f"malformed bundle: {exc}"), Claims((), None, None)
    want = "sha256:" + artifact_sha256
    if found.subjects and want not in found.subjects:
        checked = _verify(doc, found, bytes.fromhex(found.subjects[0][7:]), ctx)
        if checked.outcome is Outcome.VERIFIED:
            return _mismatch(checked, found.subjects[0]), found
        return checked, found
    return _verify(doc, found, bytes.fromhex(artifact_sha256), ctx), found


def _mismatch(c: Checked, named: str) -> Checked:
    return Checked(
        Outcome.MISMATCH,
        f"signs {named}, not this artifact",
        c.signer,
        c.tlog,
        Kind.SIGNATURE_MISMATCH,
    )


def _verify(doc: dict[str, Any], found: Claims, digest: bytes, ctx: Context) -> Checked:
    material = doc.get("verificationMaterial")
    if isinstance(material, dict) and "publicKey" in material:
        return _with_key(doc, material, found, digest, ctx)
    if ctx.root is None or ctx.trust.trusted_root is None:
        if not ctx.anything:
            return Checked(Outcome.NO_TRUST, "no trusted root given")
        return untrusted("keyless bundle: no --trusted-root to check it with")
    return _with_sigstore(doc, found, digest, ctx)


class _AnyIdentity:
    """A policy that accepts every certificate: the identity is compared afterwards, so a
    valid bundle from someone else is reported as untrusted rather than invalid."""

    def verify(self, cert: Any) -> None:
        return None


@functools.lru_cache(maxsize=4)
def _sigstore_root(path: str) -> Any:
    from sigstore.models import TrustedRoot

    return TrustedRoot.from_file(path)


def _with_sigstore(doc: dict[str, Any], found: Claims, digest: bytes, ctx: Context) -> Checked:
    from sigstore.hashes import Hashed
    from sigstore.models import Bundle
    from sigstore.verify import Verifier
    from sigstore_models.common.v1 import HashAlgorithm

    logging.getLogger("sigstore").setLevel(logging.CRITICAL)  # its warnings are ours to say
    try:
        bundle = Bundle.from_json(json.dumps(doc))
        verifier = Verifier(trusted_root=_sigstore_root(str(ctx.trust.trusted_root)))
        names, issuer = roots.identity(bundle.signing_certificate)
    except Exception as exc:  # hostile input: whatever the library raises
        return invalid(f"malformed bundle: {_line(exc)}")
    signer = f"{names[0] if names else '(no identity)'} ({issuer or 'no issuer'})"
    try:
        if found.envelope is not None:
            verifier.verify_dsse(bundle, _AnyIdentity())
        else:
            hashed = Hashed(algorithm=HashAlgorithm.SHA2_256, digest=digest)
            verifier.verify_artifact(hashed, bundle, _AnyIdentity())
    except Exception as exc:  # hostile input: whatever the library raises
        return _classify(_line(exc), signer)
    tlog = _tlog_name(bundle)
    if not ctx.identity_given:
        return untrusted("no --certificate-identity given", signer=signer, tlog=tlog)
    if not ctx.identity_ok(names, issuer):
        return untrusted(
            "certificate identity or issuer is not the one given", signer=signer, tlog=tlog
        )
    return Checked(Outcome.VERIFIED, "keyless, identity matches", signer, tlog)


def _line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]


def _classify(why: str, signer: str) -> Checked:
    """The library's failure as a verdict: a log entry that does not verify or does not match
    is ``tlog_invalid``; a chain, SCT or time failure is ``untrusted``; the rest is invalid."""
    low = why.lower()
    if "log entry" in low or "inclusion" in low or "checkpoint" in low or "set:" in low:
        return invalid(why, Kind.TLOG_INVALID, signer=signer)
    if "chain" in low or "sct" in low or "verified time" in low or "timestamp" in low:
        return untrusted(why, signer=signer)
    return invalid(why, signer=signer)


def _tlog_name(bundle: Any) -> str:
    entry = bundle.log_entry._inner
    kinds = []
    if entry.inclusion_proof is not None:
        kinds.append("inclusion proof")
    if entry.inclusion_promise is not None:
        kinds.append("SET")
    return f"rekor {' and '.join(kinds)} (log index {entry.log_index})"


def _with_key(
    doc: dict[str, Any], material: dict[str, Any], found: Claims, digest: bytes, ctx: Context
) -> Checked:
    try:
        if found.envelope is not None:
            sigs, signed = found.envelope.signatures, found.envelope.pae()
            good = [k for k in ctx.keys if any(k.verifies(s, signed) for s in sigs)]
        else:
            sigs = (b64(doc["messageSignature"].get("signature"), "signature"),)
            good = [k for k in ctx.keys if keys.verify_prehashed(k.key, sigs[0], digest)]
    except Malformed as exc:
        return invalid(f"malformed bundle: {exc}")
    if not good:
        if not ctx.keys:
            if not ctx.anything:
                return Checked(Outcome.NO_TRUST, "no key, identity or trusted root given")
            return untrusted("signed with a key; no --key given to check it")
        return invalid("does not verify with the given key(s)")
    signer = good[0].fingerprint
    tlog, problem = _key_tlog(material, found, digest, sigs, ctx)
    if problem is not None:
        return Checked(problem.outcome, problem.reason, signer, None, problem.kind)
    if ctx.trust.require_tlog and tlog is None:
        return untrusted("no transparency-log evidence (--require-tlog)", signer=signer)
    return Checked(Outcome.VERIFIED, "signed by a given key", signer, tlog)


def _key_tlog(
    material: dict[str, Any],
    found: Claims,
    digest: bytes,
    sigs: tuple[bytes, ...],
    ctx: Context,
) -> tuple[str | None, Checked | None]:
    """A key bundle's Rekor entry: consistent with the signature, and verified by the
    library against the trusted root when one is given."""
    import base64

    entries = material.get("tlogEntries") or []
    if not entries or ctx.trust.trusted_root is None:
        return None, None
    try:
        from sigstore._internal.trust import KeyringPurpose
        from sigstore.models import TransparencyLogEntry
        from sigstore_models.rekor.v1 import TransparencyLogEntry as RawEntry

        entry = TransparencyLogEntry(RawEntry.from_dict(entries[0]))
        body = loads(b64(entries[0].get("canonicalizedBody"), "canonicalizedBody"))
        hashes, recorded, _ = _recorded(body)
        payload = found.envelope.payload if found.envelope else None
        want = sha256_hex(payload) if payload is not None else digest.hex()
        if want not in hashes or not any(base64.b64encode(s).decode() in recorded for s in sigs):
            return None, invalid(
                "the Rekor entry records another signature or payload", Kind.TLOG_INVALID
            )
        root = _sigstore_root(str(ctx.trust.trusted_root))
        entry._verify(root.rekor_keyring(KeyringPurpose.VERIFY))
    except Exception as exc:  # hostile input: whatever the library raises
        return None, invalid(_line(exc), Kind.TLOG_INVALID)
    return f"rekor inclusion proof (log index {entries[0].get('logIndex')})", None


# --- in an export, and as files -----------------------------------------------------------


def is_bundle_manifest(image: Image) -> bool:
    """A referrer holding a Sigstore bundle (by artifactType or by its layer's media type)."""
    m = image.manifest
    if m is None:
        return False
    return (m.artifact_type or "").startswith(MEDIA_PREFIX) or any(
        layer.media_type.startswith(MEDIA_PREFIX) for layer in m.layers
    )


def find(export: Export, ctx: Context) -> Iterator[Found]:
    """Every Sigstore bundle the export stores as a referrer, checked against its subject."""
    for image in export.model.images:
        if image.manifest is None or not is_bundle_manifest(image):
            continue
        subject = image.manifest.subject
        attached = str(subject.digest) if subject is not None else None
        for i, layer in enumerate(image.manifest.layers):
            if not layer.media_type.startswith(MEDIA_PREFIX):
                continue
            source = f"{image.name} layer {i + 1} ({layer.digest})"
            data = read_blob(export, layer)
            if data is None:
                yield Found(
                    SignatureFormat.SIGSTORE_BUNDLE,
                    invalid("malformed: unreadable"),
                    source,
                    attached,
                    (),
                    carrier=image,
                )
                continue
            yield replace(_found(data, attached, source, ctx), carrier=image)


def _found(data: bytes, target: str | None, source: str, ctx: Context) -> Found:
    """A bundle checked against ``target`` (a digest), or against what it claims."""
    try:
        claimed = claims(loads(data)).subjects
    except (ValueError, UnicodeDecodeError, Malformed):
        claimed = ()
    digest = target or (claimed[0] if claimed else None)
    if digest is None or not digest.startswith("sha256:"):
        return Found(
            SignatureFormat.SIGSTORE_BUNDLE,
            invalid("malformed: names no digest"),
            source,
            target,
            claimed,
        )
    checked, found = verify_artifact(data, digest[7:], ctx)
    if checked.outcome is Outcome.MISMATCH:  # reported by the orchestrator, with the tie
        checked = Checked(
            Outcome.VERIFIED, "valid, for another digest", checked.signer, checked.tlog
        )
    return Found(
        SignatureFormat.SIGSTORE_BUNDLE,
        checked,
        source,
        target,
        found.subjects,
        found.predicate_type,
    )


def from_files(paths: tuple[str, ...], ctx: Context) -> Iterator[Found]:
    """The ``--bundle`` files, each checked against the digest it claims (the orchestrator
    then requires that digest to name a verified manifest of the export).

    Raises ``errors.Unreadable`` when a file cannot be read."""
    from .files import read_given

    for path in paths:
        data = read_given(path, _MAX_FILE, "a Sigstore bundle")
        _require_bundle(path, data)
        yield _found(data, None, path, ctx)


_MAX_FILE = 16 << 20  # bytes read of a --bundle file (a bundle is a few KB)


def _require_bundle(path: str, data: bytes) -> None:
    """A ``--bundle`` file must be a bundle that names a digest: anything else is a usage
    error (exit 2), said with the file's name. Raises ``errors.OciError``."""
    from ..errors import OciError

    try:
        subjects = claims(loads(data)).subjects
    except (ValueError, UnicodeDecodeError) as exc:
        why = str(exc) if isinstance(exc, Malformed) else "not JSON"
        raise OciError(path, f"not a Sigstore bundle: {why}") from None
    if not subjects:
        raise OciError(path, "not a Sigstore bundle: it names no sha256 digest")
