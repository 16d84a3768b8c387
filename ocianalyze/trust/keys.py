"""Public keys the user trusts (``--key FILE``) and plain signature checks with them.

Imported only when a trust option is used: it imports ``cryptography``.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from ..errors import OciError
from ..record import record
from .files import read_given
from .gpg import MAX_KEY_FILE, KeyKind, key_kind


@record
class PublicKey:
    """A PEM public key: ECDSA P-256/P-384, RSA or Ed25519. ``fingerprint`` is
    ``SHA256:<unpadded base64 of sha256(DER SubjectPublicKeyInfo)>``, as ssh-keygen prints
    them; ``path`` as the user gave it."""

    key: Any
    fingerprint: str
    path: str

    def verifies(self, signature: bytes, data: bytes) -> bool:
        """Whether ``signature`` is this key's signature over ``data``."""
        return verify(self.key, signature, data)


def fingerprint(key: Any) -> str:
    """``SHA256:<base64>`` of the key's DER SubjectPublicKeyInfo (no padding)."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "SHA256:" + base64.b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")


def is_openpgp(data: bytes) -> bool:
    """An armoured OpenPGP public key, or a binary one (a public-key packet whose body starts
    with a key version; ``gpg.key_kind``): left to simple signing, which imports it."""
    return key_kind(data) is KeyKind.OPENPGP


def load_keys(paths: tuple[str, ...]) -> list[PublicKey]:
    """The PEM public keys among ``paths``; OpenPGP keys are left to simple signing.

    Raises ``errors.Unreadable`` when a file cannot be read and ``errors.OciError`` when it
    holds neither a PEM public key of a supported type nor an OpenPGP key."""
    out = []
    for path in paths:
        data = read_given(path, MAX_KEY_FILE, "a public key")
        kind = key_kind(data)
        if kind is KeyKind.OPENPGP:
            continue
        if kind is KeyKind.OPENPGP_SECRET:
            raise OciError(path, "an OpenPGP private key: give the public key (gpg --export)")
        key = parse_pem(data, path)
        out.append(PublicKey(key, fingerprint(key), path))
    return out


def parse_pem(data: bytes, where: str) -> Any:
    """A PEM SubjectPublicKeyInfo of a supported type. Raises ``errors.OciError``."""
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise OciError(where, "not a PEM public key (nor an OpenPGP key)") from None
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name not in _EC_HASHES:
        raise OciError(where, f"unsupported elliptic curve {key.curve.name}")
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise OciError(where, "unsupported public key type (ECDSA, RSA or Ed25519 only)")
    return key


# cosign hashes with SHA-256 whatever the curve; Sigstore's algorithm registry pairs P-384
# with SHA-384: both are accepted.
_EC_HASHES: dict[str, tuple[type[hashes.HashAlgorithm], ...]] = {
    "secp256r1": (hashes.SHA256,),
    "secp384r1": (hashes.SHA384, hashes.SHA256),
    "secp521r1": (hashes.SHA512, hashes.SHA256),
}


def verify(key: Any, signature: bytes, data: bytes) -> bool:
    """Whether ``signature`` is ``key``'s signature over ``data`` (ECDSA with the hashes above,
    RSA PKCS#1 v1.5 or PSS with SHA-256, Ed25519). Never raises for a bad signature."""
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
            return True
        if isinstance(key, ec.EllipticCurvePublicKey):
            return any(
                _ok(lambda h=h: key.verify(signature, data, ec.ECDSA(h())))
                for h in _EC_HASHES.get(key.curve.name, (hashes.SHA256,))
            )
        if isinstance(key, rsa.RSAPublicKey):
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
            return _ok(
                lambda: key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
            ) or _ok(lambda: key.verify(signature, data, pss, hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return False


def _ok(check: Any) -> bool:
    try:
        check()
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_prehashed(key: Any, signature: bytes, digest: bytes) -> bool:
    """Whether ``signature`` is ``key``'s signature over the data whose SHA-256 is ``digest``
    (ECDSA and RSA only: Ed25519 signs the data itself)."""
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    pre = Prehashed(hashes.SHA256())
    if isinstance(key, ec.EllipticCurvePublicKey):
        return _ok(lambda: key.verify(signature, digest, ec.ECDSA(pre)))
    if isinstance(key, rsa.RSAPublicKey):
        return _ok(lambda: key.verify(signature, digest, padding.PKCS1v15(), pre))
    return False
