"""The bare-artifact bundle check (``bundle.verify_artifact``) on key-signed bundles built here:
valid, for another artifact, damaged, with no key, and a DSSE statement."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ocianalyze.errors import Kind
from ocianalyze.trust import Outcome, Trust
from ocianalyze.trust.bundle import verify_artifact
from ocianalyze.trust.material import Context

from .test_trust_build import (
    BUNDLE_V3,
    INTOTO,
    b64,
    fingerprint,
    key_bundle,
    new_key,
    pae,
    pem,
    sign,
    statement,
)

ARTIFACT = b"the artifact\n"
HEX = hashlib.sha256(ARTIFACT).hexdigest()


def _ctx(tmp: Path, key: object | None) -> Context:
    keys = ()
    if key is not None:
        (tmp / "k.pub").write_bytes(pem(key))  # type: ignore[arg-type]
        keys = (str(tmp / "k.pub"),)
    return Context.load(Trust(keys=keys))


def test_key_bundle_verifies_its_artifact_only(tmp_path: Path) -> None:
    key = new_key()
    data = key_bundle(key, ARTIFACT)
    checked, claims = verify_artifact(data, HEX, _ctx(tmp_path, key))
    assert (checked.outcome, checked.signer) == (Outcome.VERIFIED, fingerprint(key))
    assert claims.subjects == ("sha256:" + HEX,)
    other = hashlib.sha256(b"another").hexdigest()
    checked, _ = verify_artifact(data, other, _ctx(tmp_path, key))
    assert (checked.outcome, checked.kind) == (Outcome.MISMATCH, Kind.SIGNATURE_MISMATCH)


def test_wrong_key_no_key_and_damage(tmp_path: Path) -> None:
    data = key_bundle(new_key(), ARTIFACT)
    checked, _ = verify_artifact(data, HEX, _ctx(tmp_path, new_key()))
    assert (checked.outcome, checked.kind) == (Outcome.INVALID, Kind.SIGNATURE_INVALID)
    checked, _ = verify_artifact(data, HEX, _ctx(tmp_path, None))
    assert checked.outcome is Outcome.NO_TRUST
    checked, _ = verify_artifact(data[:-3], HEX, _ctx(tmp_path, new_key()))
    assert (checked.outcome, checked.kind) == (Outcome.MALFORMED, Kind.SIGNATURE_INVALID)


def test_dsse_bundle_names_its_subject(tmp_path: Path) -> None:
    key = new_key()
    body = statement("sha256:" + HEX)
    bundle = {
        "mediaType": BUNDLE_V3,
        "verificationMaterial": {"publicKey": {"hint": "k"}, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": b64(body),
            "payloadType": INTOTO,
            "signatures": [{"sig": b64(sign(key, pae(INTOTO, body)))}],
        },
    }
    data = json.dumps(bundle).encode()
    checked, claims = verify_artifact(data, HEX, _ctx(tmp_path, key))
    assert checked.outcome is Outcome.VERIFIED
    assert claims.predicate_type == "https://slsa.dev/provenance/v1"
    bundle["dsseEnvelope"]["payload"] = b64(body.replace(b"test", b"tost"))  # type: ignore[index]
    checked, _ = verify_artifact(json.dumps(bundle).encode(), HEX, _ctx(tmp_path, key))
    assert checked.outcome is Outcome.INVALID
