"""Builders of signed exports for the trust tests, from the published specs alone.

cosign specs/SIGNATURE_SPEC.md: a ``sha256-<hex>.sig`` manifest whose layer
(``application/vnd.dev.cosign.simplesigning.v1+json``) is the payload
``{"critical": {"identity": {"docker-reference"}, "image": {"docker-manifest-digest"},
"type": "cosign container image signature"}, "optional": ...}``, its signature (ECDSA over the
payload's SHA-256, base64) in the ``dev.cosignproject.cosign/signature`` annotation, a Rekor
bundle in ``dev.sigstore.cosign/bundle``. ATTESTATION_SPEC.md: a ``sha256-<hex>.att`` manifest
whose layer is a DSSE envelope (``application/vnd.dsse.envelope.v1+json``) over an in-toto
statement. A Sigstore bundle (protobuf-specs Bundle v0.3) stored as an OCI 1.1 referrer.
Nothing here comes from ocianalyze: the tests compare its verdicts with these facts.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .exports import OCI_CONFIG, OCI_MANIFEST, REF, Image, Written, cj, layer_tar, oci, sha

SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
DSSE = "application/vnd.dsse.envelope.v1+json"
BUNDLE_V3 = "application/vnd.dev.sigstore.bundle.v0.3+json"
EMPTY = "application/vnd.oci.empty.v1+json"
NOTATION = "application/vnd.cncf.notary.signature"
INTOTO = "application/vnd.in-toto+json"
REFERENCE = "example.com/app:1.0"
IDENTITY = "https://github.com/example/app/.github/workflows/release.yml@refs/heads/main"
ISSUER = "https://token.actions.githubusercontent.com"
SIGNED_AT = 1_700_000_000  # the Rekor entry's integrated time (seconds)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def der(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def fingerprint(key: ec.EllipticCurvePrivateKey) -> str:
    return "SHA256:" + b64(hashlib.sha256(der(key)).digest()).rstrip("=")


def sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def pae(payload_type: str, payload: bytes) -> bytes:
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def cosign_payload(digest: str, reference: str = REFERENCE) -> bytes:
    return cj(
        {
            "critical": {
                "identity": {"docker-reference": reference},
                "image": {"docker-manifest-digest": digest},
                "type": "cosign container image signature",
            },
            "optional": None,
        }
    )


def statement(digest: str, predicate: str = "https://slsa.dev/provenance/v1") -> bytes:
    return cj(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "example.com/app", "digest": {"sha256": digest[7:]}}],
            "predicateType": predicate,
            "predicate": {"buildType": "test"},
        }
    )


# --- a test Rekor and a test Fulcio ---------------------------------------------------------


@dataclass
class Authority:
    """A Rekor log key and a Fulcio-like CA, written into a trusted_root.json."""

    rekor: ec.EllipticCurvePrivateKey = field(default_factory=new_key)
    ca_key: ec.EllipticCurvePrivateKey = field(default_factory=new_key)
    ca: x509.Certificate | None = None

    def __post_init__(self) -> None:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test fulcio")])
        self.ca = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.ca_key.public_key())
            .serial_number(1)
            .not_valid_before(dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc))
            .not_valid_after(dt.datetime(2040, 1, 1, tzinfo=dt.timezone.utc))
            .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.ca_key.public_key()), False
            )
            .sign(self.ca_key, hashes.SHA256())
        )

    def log_id(self) -> bytes:
        return hashlib.sha256(der(self.rekor)).digest()

    def trusted_root(self) -> bytes:
        assert self.ca is not None
        return cj(
            {
                "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
                "tlogs": [
                    {
                        "baseUrl": "https://rekor.invalid",
                        "hashAlgorithm": "SHA2_256",
                        "publicKey": {
                            "rawBytes": b64(der(self.rekor)),
                            "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                            "validFor": {"start": "2020-01-01T00:00:00Z"},
                        },
                        "logId": {"keyId": b64(self.log_id())},
                    }
                ],
                "certificateAuthorities": [
                    {
                        "subject": {"organization": "test", "commonName": "test fulcio"},
                        "uri": "https://fulcio.invalid",
                        "certChain": {
                            "certificates": [
                                {"rawBytes": b64(self.ca.public_bytes(serialization.Encoding.DER))}
                            ]
                        },
                        "validFor": {"start": "2020-01-01T00:00:00Z"},
                    }
                ],
                "ctlogs": [],
                "timestampAuthorities": [],
            }
        )

    def leaf(self, key: ec.EllipticCurvePrivateKey, identity: str = IDENTITY) -> bytes:
        """A short-lived code-signing certificate for ``identity`` (PEM), valid at SIGNED_AT."""
        assert self.ca is not None
        start = dt.datetime.fromtimestamp(SIGNED_AT - 60, dt.timezone.utc)
        issuer_der = b"\x0c" + bytes([len(ISSUER)]) + ISSUER.encode()
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self.ca.subject)
            .public_key(key.public_key())
            .serial_number(2)
            .not_valid_before(start)
            .not_valid_after(start + dt.timedelta(minutes=10))
            .add_extension(
                x509.SubjectAlternativeName([x509.UniformResourceIdentifier(identity)]), True
            )
            .add_extension(
                x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key()),
                False,
            )
            .add_extension(
                x509.UnrecognizedExtension(
                    x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8"), issuer_der
                ),
                False,
            )
            .sign(self.ca_key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM)

    def rekor_bundle(
        self, payload: bytes, signature: bytes, verifier_pem: bytes, index: int = 7
    ) -> str:
        """cosign's ``dev.sigstore.cosign/bundle``: a hashedrekord entry and its SET."""
        return self.rekor_entry(self.hashedrekord(payload, signature, verifier_pem), index)

    @staticmethod
    def intoto(payload: bytes, signature: bytes, verifier_pem: bytes) -> bytes:
        """A Rekor intoto 0.0.2 body (cosign attest): envelope signatures base64 twice."""
        return cj(
            {
                "apiVersion": "0.0.2",
                "kind": "intoto",
                "spec": {
                    "content": {
                        "envelope": {
                            "payloadType": INTOTO,
                            "signatures": [
                                {
                                    "sig": b64(b64(signature).encode()),
                                    "publicKey": b64(verifier_pem),
                                }
                            ],
                        },
                        "payloadHash": {
                            "algorithm": "sha256",
                            "value": hashlib.sha256(payload).hexdigest(),
                        },
                    }
                },
            }
        )

    @staticmethod
    def hashedrekord(payload: bytes, signature: bytes, verifier_pem: bytes) -> bytes:
        return cj(
            {
                "apiVersion": "0.0.1",
                "kind": "hashedrekord",
                "spec": {
                    "data": {
                        "hash": {
                            "algorithm": "sha256",
                            "value": hashlib.sha256(payload).hexdigest(),
                        }
                    },
                    "signature": {
                        "content": b64(signature),
                        "publicKey": {"content": b64(verifier_pem)},
                    },
                },
            }
        )

    def rekor_entry(self, body: bytes, index: int = 7) -> str:
        """A Rekor bundle annotation for ``body``, with the SET of this log."""
        entry = {
            "body": b64(body),
            "integratedTime": SIGNED_AT,
            "logID": self.log_id().hex(),
            "logIndex": index,
        }
        canonical = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()
        return json.dumps(
            {"SignedEntryTimestamp": b64(sign(self.rekor, canonical)), "Payload": entry}
        )


# --- exports ---------------------------------------------------------------------------------


def image_export(n: int = 1, docker25: bool = False) -> tuple[Written, list[str]]:
    """An OCI layout of ``n`` images (tags 1.0, 2.0, ...), with Docker 25+'s manifest.json
    when ``docker25``; their manifest digests."""
    images = [
        Image([layer_tar({f"app/{i}.txt": f"image {i}\n".encode() * 50})], tag=f"{i + 1}.0")
        for i in range(n)
    ]
    written = oci(images, docker25=docker25)
    index = json.loads(written.files["index.json"])
    return written, [m["digest"] for m in index["manifests"]]


def _add_manifest(written: Written, manifest: dict[str, Any], ref: str | None) -> str:
    data = cj(manifest)
    written.put_blob(data)
    index = json.loads(written.files["index.json"])
    entry: dict[str, Any] = {"mediaType": OCI_MANIFEST, "digest": sha(data), "size": len(data)}
    if ref is not None:
        entry["annotations"] = {REF: ref}
    if "artifactType" in manifest:
        entry["artifactType"] = manifest["artifactType"]
    index["manifests"].append(entry)
    written.files["index.json"] = cj(index)
    return sha(data)


def _config(written: Written, layer: bytes) -> dict[str, Any]:
    config = cj(
        {
            "architecture": "",
            "os": "",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [sha(layer)]},
        }
    )
    written.put_blob(config)
    return {"mediaType": OCI_CONFIG, "digest": sha(config), "size": len(config)}


def add_signature(
    written: Written,
    attached: str,
    *,
    key: ec.EllipticCurvePrivateKey,
    names: str | None = None,
    payload: bytes | None = None,
    signature: bytes | None = None,
    cert_pem: bytes | None = None,
    rekor: str | None = None,
) -> bytes:
    """A cosign ``sha256-<hex>.sig`` manifest attached to ``attached``; the payload names
    ``names`` (default: ``attached``). Returns the payload."""
    payload = payload if payload is not None else cosign_payload(names or attached)
    signature = signature if signature is not None else sign(key, payload)
    written.put_blob(payload)
    annotations = {"dev.cosignproject.cosign/signature": b64(signature)}
    if cert_pem is not None:
        annotations["dev.sigstore.cosign/certificate"] = cert_pem.decode()
    if rekor is not None:
        annotations["dev.sigstore.cosign/bundle"] = rekor
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": _config(written, payload),
        "layers": [
            {
                "mediaType": SIMPLE_SIGNING,
                "digest": sha(payload),
                "size": len(payload),
                "annotations": annotations,
            }
        ],
    }
    _add_manifest(written, manifest, f"sha256-{attached[7:]}.sig")
    return payload


def add_attestation(
    written: Written,
    attached: str,
    *,
    key: ec.EllipticCurvePrivateKey,
    names: str | None = None,
    authority: Authority | None = None,
    logged: bytes | None = None,
) -> bytes:
    """A cosign ``sha256-<hex>.att`` manifest: a DSSE envelope over an in-toto statement;
    with ``authority``, its Rekor intoto entry in the bundle annotation (of the statement
    ``logged``, signed by ``key``, when given: an entry swapped in from elsewhere)."""
    body = statement(names or attached)
    signature = sign(key, pae(INTOTO, body))
    envelope = cj(
        {
            "payloadType": INTOTO,
            "payload": b64(body),
            "signatures": [{"keyid": "", "sig": b64(signature)}],
        }
    )
    annotations = {
        "dev.cosignproject.cosign/signature": "",
        "predicateType": "https://slsa.dev/provenance/v1",
    }
    if authority is not None:
        if logged is None:
            rekor = authority.rekor_entry(authority.intoto(body, signature, pem(key)))
        else:
            other = sign(key, pae(INTOTO, logged))
            rekor = authority.rekor_entry(authority.intoto(logged, other, pem(key)))
        annotations["dev.sigstore.cosign/bundle"] = rekor
    written.put_blob(envelope)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": _config(written, envelope),
        "layers": [
            {
                "mediaType": DSSE,
                "digest": sha(envelope),
                "size": len(envelope),
                "annotations": annotations,
            }
        ],
    }
    _add_manifest(written, manifest, f"sha256-{attached[7:]}.att")
    return envelope


def key_bundle(key: ec.EllipticCurvePrivateKey, artifact: bytes) -> bytes:
    """A Sigstore bundle v0.3 with a public-key hint and a message signature over
    ``artifact`` (the signature is over its SHA-256, as for hashedrekord)."""
    digest = hashlib.sha256(artifact).digest()
    signature = key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    return cj(
        {
            "mediaType": BUNDLE_V3,
            "verificationMaterial": {"publicKey": {"hint": fingerprint(key)}, "tlogEntries": []},
            "messageSignature": {
                "messageDigest": {"algorithm": "SHA2_256", "digest": b64(digest)},
                "signature": b64(signature),
            },
        }
    )


def add_referrer(
    written: Written, subject: str, artifact_type: str, blob: bytes, media: str
) -> str:
    """An OCI 1.1 referrer of ``subject`` holding ``blob`` as its one layer."""
    written.put_blob(b"{}")
    manifest_bytes = written.files["blobs/sha256/" + subject[7:]]
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": {"mediaType": EMPTY, "digest": sha(b"{}"), "size": 2},
        "layers": [{"mediaType": media, "digest": sha(blob), "size": len(blob)}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": len(manifest_bytes)},
    }
    written.put_blob(blob)
    return _add_manifest(written, manifest, None)


def write_keys(tmp: Path, **keys: ec.EllipticCurvePrivateKey) -> dict[str, Path]:
    out = {}
    for name, key in keys.items():
        path = tmp / f"{name}.pub"
        path.write_bytes(pem(key))
        out[name] = path
    return out


def test_payload_follows_the_signature_spec() -> None:
    payload = json.loads(cosign_payload("sha256:" + "ab" * 32))
    assert payload["critical"]["type"] == "cosign container image signature"
    assert payload["critical"]["image"]["docker-manifest-digest"] == "sha256:" + "ab" * 32


def test_pae_is_dsse_v1() -> None:
    assert pae("t", b"xy") == b"DSSEv1 1 t 2 xy"
