"""Every PEM key type the issue names signs a cosign signature that verifies: ECDSA P-256 and
P-384 (SHA-384, as sigstore's signer uses for that curve), RSA (PKCS#1 v1.5 and PSS, SHA-256)
and Ed25519; the same signature flipped by one bit is signature_invalid."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from .conftest import run_cli
from .exports import to_dir
from .test_trust_build import add_signature, b64, cosign_payload, image_export, new_key

_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH)

SIGNERS: dict[str, tuple[Callable[[], Any], Callable[[Any, bytes], bytes]]] = {
    "p256": (new_key, lambda k, d: k.sign(d, ec.ECDSA(hashes.SHA256()))),
    "p384": (
        lambda: ec.generate_private_key(ec.SECP384R1()),
        lambda k, d: k.sign(d, ec.ECDSA(hashes.SHA384())),
    ),
    "rsa-pkcs1": (
        lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
        lambda k, d: k.sign(d, padding.PKCS1v15(), hashes.SHA256()),
    ),
    "rsa-pss": (
        lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
        lambda k, d: k.sign(d, _PSS, hashes.SHA256()),
    ),
    "ed25519": (ed25519.Ed25519PrivateKey.generate, lambda k, d: k.sign(d)),
}


def _public(key: Any) -> tuple[bytes, str]:
    """The PEM public key and its fingerprint (SHA256 of the DER SubjectPublicKeyInfo)."""
    spki = serialization.Encoding, serialization.PublicFormat.SubjectPublicKeyInfo
    der = key.public_key().public_bytes(serialization.Encoding.DER, spki[1])
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, spki[1])
    return pem, "SHA256:" + b64(hashlib.sha256(der).digest()).rstrip("=")


@pytest.mark.parametrize("kind", list(SIGNERS))
@pytest.mark.parametrize("flip", [False, True])
def test_each_key_type_verifies(kind: str, flip: bool, tmp_path: Path) -> None:
    make, sign = SIGNERS[kind]
    key = make()
    written, digests = image_export(1)
    payload = cosign_payload(digests[0])
    signature = bytearray(sign(key, payload))
    if flip:
        signature[len(signature) // 2] ^= 0x01
    add_signature(written, digests[0], key=new_key(), payload=payload, signature=bytes(signature))
    pem, fingerprint = _public(key)
    (tmp_path / "key.pub").write_bytes(pem)
    export = to_dir(written, tmp_path / "export")
    run = run_cli(
        "verify", "-f", "json", "--key", str(tmp_path / "key.pub"), "--require-signature",
        str(export),
    )  # fmt: skip
    doc = run.json()
    (sig,) = doc["signatures"]
    if flip:
        assert run.code == 1
        assert sig["outcome"] == "invalid"
        assert {p["kind"] for p in doc["problems"]} == {"signature_invalid", "unsigned"}
    else:
        assert run.code == 0, run.out
        assert (sig["outcome"], sig["signer"]) == ("verified", fingerprint)


def test_the_html_page_shows_checked_signatures(tmp_path: Path) -> None:
    key = new_key()
    written, digests = image_export(1)
    add_signature(written, digests[0], key=key)
    pem, fingerprint = _public(key)
    (tmp_path / "key.pub").write_bytes(pem)
    export = str(to_dir(written, tmp_path / "export"))
    key_file = str(tmp_path / "key.pub")
    run = run_cli("report", "--format", "html", "--key", key_file, "--require-signature", export)
    assert run.code == 0, run.err
    assert 'id="signatures"' in run.out and run.out.count('class="signature-row"') == 1
    assert fingerprint in run.out and "verified" in run.out
    plain = run_cli("report", "--format", "html", export)
    assert plain.code == 0 and 'id="signatures"' not in plain.out
