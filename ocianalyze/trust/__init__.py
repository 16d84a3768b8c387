"""Authenticity: the signatures and attestations an export carries, checked offline against
what the user trusts, and tied through the manifest to every verified byte.

This module holds the shared vocabulary only (no I/O, no cryptography import): what a signature
is (``SignatureFormat``), what checking it gave (``Outcome``), one piece of ``Evidence`` per
signature or attestation found, and the ``Trust`` the user gave on the command line. The
formats live in their own modules, imported only when a signature option is used:

- ``cosign``: cosign "attached" signatures (``sha256-<hex>.sig`` manifests) and attestations
  (``.att`` manifests holding DSSE envelopes), with the Rekor bundle annotation;
- ``bundle``: Sigstore bundles (v0.1-v0.3) as OCI 1.1 referrers or as files (``--bundle``);
- ``simplesign``: containers "simple signing" OpenPGP signatures (skopeo ``dir:`` exports'
  ``signature-N`` files), checked with gpg;
- ``pins``: ``--expect`` digests (a digest, ``REF@DIGEST`` lines, a repo-info page);
- ``tie``: the rule that a valid signature counts only for a manifest whose bytes, and every
  blob it references, were verified in the same run.
"""

from __future__ import annotations

import enum

from ..record import field, record


class SignatureFormat(str, enum.Enum):
    """How a signature or attestation is stored. The value is the stable JSON name."""

    COSIGN = "cosign"  # simple-signing payload + signature annotation, cosign's spec
    COSIGN_ATTESTATION = "cosign-attestation"  # DSSE envelope layer of an .att manifest
    SIGSTORE_BUNDLE = "sigstore-bundle"  # application/vnd.dev.sigstore.bundle*+json
    SIMPLE_SIGNING = "simple-signing"  # containers/image OpenPGP signature (signature-N)
    NOTATION = "notation"  # notaryproject: recognised, not verified


class Outcome(str, enum.Enum):
    """What checking one signature gave. The value is the stable JSON name."""

    VERIFIED = "verified"  # valid, from the given trust, for a verified manifest of the export
    INVALID = "invalid"  # the signature does not verify over its payload
    UNTRUSTED = "untrusted"  # valid, but not from a key or identity the user trusts
    MISMATCH = "mismatch"  # valid and trusted, but for another digest than the one it sits on
    UNVERIFIED_BYTES = "unverified_bytes"  # valid, but the manifest or a blob failed verify
    NO_TRUST = "no_trust"  # found; no key, identity or trusted root was given to check it
    UNSUPPORTED = "unsupported"  # a format this version does not verify (Notation)
    MALFORMED = "malformed"  # cannot be parsed as its format claims


@record
class Evidence:
    """One signature or attestation found in an export (or given with ``--bundle``).

    ``subject``: the manifest or index digest (``sha256:<hex>``) the payload names;
    ``source``: where it was found, for people (a member, a blob digest, a file name);
    ``signer``: a key fingerprint (``SHA256:<base64>`` for PEM keys, the OpenPGP fingerprint)
    or a certificate's identity and issuer (``identity (issuer)``), when known;
    ``tlog``: the transparency-log evidence checked (``"rekor SET"``, ``"inclusion proof"``),
    or None when there was none; ``predicate_type``: an attestation's in-toto predicate type;
    ``reference``: the payload's docker-reference, when it carries one.
    """

    format: SignatureFormat
    subject: str | None
    outcome: Outcome
    reason: str  # one line for people: why verified or why not
    source: str
    signer: str | None = None
    tlog: str | None = None
    predicate_type: str | None = None
    reference: str | None = None


@record
class Trust:
    """What the user trusts, from the command line. Paths are as given; nothing is read here.

    ``keys``: PEM public keys (ECDSA P-256/P-384, RSA, Ed25519) or OpenPGP public keys;
    ``identity``/``identity_regexp`` and ``issuer``/``issuer_regexp``: a keyless signer's
    certificate identity and OIDC issuer, checked against ``trusted_root`` (Sigstore's
    trusted_root.json); ``bundles``: Sigstore bundle files given beside the export;
    ``require_tlog``: a signature without verified transparency-log evidence is not trusted;
    ``sign_identity``: the docker-reference a signature must name exactly;
    ``require_signature``: every runnable image needs a VERIFIED signature;
    ``expect``: ``--expect`` specs (a digest, a file of REF@DIGEST lines, a repo-info page).
    """

    keys: tuple[str, ...] = ()
    identity: str | None = None
    identity_regexp: str | None = None
    issuer: str | None = None
    issuer_regexp: str | None = None
    trusted_root: str | None = None
    bundles: tuple[str, ...] = ()
    require_tlog: bool = False
    sign_identity: str | None = None
    require_signature: bool = False
    expect: tuple[str, ...] = field(default_factory=tuple)

    @property
    def given(self) -> bool:
        """Whether any signature option was used (the formats' modules are imported only then)."""
        return bool(
            self.keys
            or self.identity
            or self.identity_regexp
            or self.trusted_root
            or self.bundles
            or self.require_signature
            or self.expect
            or self.sign_identity
            or self.require_tlog
        )
