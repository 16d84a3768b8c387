"""cosign signatures and attestations, Sigstore bundle referrers and Notation referrers, built
from the published specs (test_trust_build), checked in every container format: an OCI layout
directory, an oci-archive tar, a Docker 25+ save, and the tar on standard input (plain and
gzip-compressed). Each tamper
gives its exact problem kind; the same fixture gives the same verdict in every format.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .conftest import Run, run_cli
from .exports import Image as ExportImage
from .exports import Written, flip, layer_tar, legacy, to_dir, to_tar
from .test_trust_build import (
    BUNDLE_V3,
    IDENTITY,
    ISSUER,
    NOTATION,
    REFERENCE,
    Authority,
    add_attestation,
    add_referrer,
    add_signature,
    cosign_payload,
    fingerprint,
    image_export,
    key_bundle,
    new_key,
    pem,
    sign,
    statement,
)

FORMATS = ["layout", "oci-archive", "docker25", "stdin", "stdin-gzip"]


@dataclass
class Case:
    """An export being built, the files the command line names, and the options to give."""

    tmp: Path
    fmt: str
    n: int = 1
    key: Any = field(default_factory=new_key)
    auth: Authority = field(default_factory=Authority)

    def __post_init__(self) -> None:
        self.written, self.digests = image_export(self.n, docker25=self.fmt == "docker25")
        self.files: dict[str, Path] = {}

    def file(self, name: str, data: bytes) -> str:
        path = self.tmp / name
        path.write_bytes(data)
        return str(path)

    def key_args(self) -> list[str]:
        return ["--key", self.file("good.pub", pem(self.key))]

    def root_args(self) -> list[str]:
        return ["--trusted-root", self.file("root.json", self.auth.trusted_root())]

    def run(self, *args: str) -> Run:
        if self.fmt in ("layout",):
            target = str(to_dir(self.written, self.tmp / "export"))
            return run_cli("verify", "-f", "json", target, *args)
        data = to_tar(self.written)
        if self.fmt == "stdin-gzip":  # one pass through a decompressor
            return run_cli("verify", "-f", "json", "-", *args, stdin=gzip.compress(data))
        if self.fmt == "stdin":
            return run_cli("verify", "-f", "json", "-", *args, stdin=data)
        return run_cli("verify", "-f", "json", self.file("export.tar", data), *args)


def kinds(run: Run) -> set[str]:
    return {p["kind"] for p in run.json()["problems"]}


def outcomes(run: Run) -> list[tuple[str, str]]:
    return sorted((s["format"], s["outcome"]) for s in run.json()["signatures"])


@pytest.fixture(params=FORMATS)
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Case:
    return Case(tmp_path, request.param)


def _signed_with_tlog(c: Case, signer: Any = None, payload: bytes | None = None) -> None:
    signer = signer or c.key
    payload = payload or cosign_payload(c.digests[0])
    signature = sign(signer, payload)
    rekor = c.auth.rekor_bundle(payload, signature, pem(signer))
    add_signature(
        c.written, c.digests[0], key=signer, payload=payload, signature=signature, rekor=rekor
    )


# --- valid ---------------------------------------------------------------------------------


def test_signature_attestation_and_bundle_verify(case: Case) -> None:
    _signed_with_tlog(case)
    add_attestation(case.written, case.digests[0], key=case.key)
    manifest = case.written.files["blobs/sha256/" + case.digests[0][7:]]
    add_referrer(
        case.written, case.digests[0], BUNDLE_V3, key_bundle(case.key, manifest), BUNDLE_V3
    )
    run = case.run(*case.key_args(), *case.root_args(), "--require-signature")
    assert run.code == 0, (run.out, run.err)
    doc = run.json()
    assert doc["schema_version"] == 2 and doc["problems"] == []
    by_format = {s["format"]: s for s in doc["signatures"]}
    cosign = by_format["cosign"]
    assert cosign["outcome"] == "verified" and cosign["subject"] == case.digests[0]
    assert cosign["signer"] == fingerprint(case.key)
    assert cosign["tlog"] == "rekor SET (log index 7)"
    assert cosign["reference"] == REFERENCE
    att = by_format["cosign-attestation"]
    assert (
        att["outcome"] == "verified" and att["predicate_type"] == "https://slsa.dev/provenance/v1"
    )
    assert by_format["sigstore-bundle"]["outcome"] == "verified"
    (image,) = [i for i in doc["images"] if i["kind"] == "image"]
    assert image["signed"] is True and len(image["signatures"]) == 3
    # Only the cosign signature carries a Rekor entry: it alone counts under --require-tlog.
    run = case.run(*case.key_args(), *case.root_args(), "--require-signature", "--require-tlog")
    assert run.code == 0 and kinds(run) == {"signature_untrusted"}
    assert outcomes(run) == [
        ("cosign", "verified"),
        ("cosign-attestation", "untrusted"),
        ("sigstore-bundle", "untrusted"),
    ]


def test_keyless_signature_verifies_with_identity(case: Case) -> None:
    signer = new_key()
    cert = case.auth.leaf(signer)
    payload = cosign_payload(case.digests[0])
    signature = sign(signer, payload)
    rekor = case.auth.rekor_bundle(payload, signature, cert)
    add_signature(
        case.written,
        case.digests[0],
        key=signer,
        payload=payload,
        signature=signature,
        cert_pem=cert,
        rekor=rekor,
    )
    ident = ["--certificate-identity", IDENTITY, "--certificate-oidc-issuer", ISSUER]
    run = case.run(*case.root_args(), *ident, "--require-signature")
    assert run.code == 0, run.out
    (sig,) = run.json()["signatures"]
    assert (sig["outcome"], sig["signer"]) == ("verified", f"{IDENTITY} ({ISSUER})")
    regexp = [
        "--certificate-identity-regexp",
        "https://github.com/example/.*",
        "--certificate-oidc-issuer-regexp",
        "https://token\\..*",
    ]
    assert case.run(*case.root_args(), *regexp, "--require-signature").code == 0
    other = ["--certificate-identity", "mallory@example.com", "--certificate-oidc-issuer", ISSUER]
    run = case.run(*case.root_args(), *other, "--require-signature")
    assert run.code == 1 and kinds(run) == {"signature_untrusted", "unsigned"}


# --- tampers: each its exact kind ------------------------------------------------------------


def test_payload_naming_another_digest_is_a_mismatch(case: Case) -> None:
    case.written, case.digests = image_export(2, docker25=case.fmt == "docker25")
    add_signature(case.written, case.digests[0], key=case.key, names=case.digests[1])
    run = case.run(*case.key_args(), "--require-signature")
    assert run.code == 1
    assert kinds(run) == {"signature_mismatch", "unsigned"}
    assert outcomes(run) == [("cosign", "mismatch")]


def test_signature_for_an_image_not_in_the_export_is_a_mismatch(case: Case) -> None:
    elsewhere = "sha256:" + "ab" * 32
    add_signature(case.written, elsewhere, key=case.key)
    run = case.run(*case.key_args())
    assert run.code == 1 and kinds(run) == {"signature_mismatch"}
    assert run.json()["signatures"][0]["subject"] == elsewhere


def test_flipped_signature_is_invalid(case: Case) -> None:
    payload = cosign_payload(case.digests[0])
    bad = flip(sign(case.key, payload), 10)
    add_signature(case.written, case.digests[0], key=case.key, payload=payload, signature=bad)
    run = case.run(*case.key_args(), "--require-signature")
    assert run.code == 1 and kinds(run) == {"signature_invalid", "unsigned"}


def test_changed_payload_is_invalid(case: Case) -> None:
    payload = cosign_payload(case.digests[0])
    signature = sign(case.key, payload)
    changed = payload.replace(b"example.com", b"examp1e.com")
    add_signature(case.written, case.digests[0], key=case.key, payload=changed, signature=signature)
    run = case.run(*case.key_args())
    assert run.code == 1 and kinds(run) == {"signature_invalid"}


def test_wrong_key(case: Case) -> None:
    """Without a Rekor entry a signature by another key cannot be told from a broken one;
    with one, the key it records proves the signature valid: only untrusted (a warning)."""
    add_signature(case.written, case.digests[0], key=new_key())
    run = case.run(*case.key_args())
    assert run.code == 1 and kinds(run) == {"signature_invalid"}


def test_wrong_key_with_its_rekor_entry_is_untrusted(case: Case) -> None:
    _signed_with_tlog(case, signer=new_key())
    run = case.run(*case.key_args(), *case.root_args())
    assert run.code == 0 and kinds(run) == {"signature_untrusted"}
    run = case.run(*case.key_args(), *case.root_args(), "--require-signature")
    assert run.code == 1 and kinds(run) == {"signature_untrusted", "unsigned"}


def test_swapped_tlog_entry_is_tlog_invalid(case: Case) -> None:
    payload = cosign_payload(case.digests[0])
    other = cosign_payload("sha256:" + "cd" * 32)
    rekor = case.auth.rekor_bundle(other, sign(case.key, other), pem(case.key))
    add_signature(case.written, case.digests[0], key=case.key, payload=payload, rekor=rekor)
    run = case.run(*case.key_args(), *case.root_args())
    assert run.code == 1 and kinds(run) == {"tlog_invalid"}


def test_set_from_an_untrusted_log_is_tlog_invalid(case: Case) -> None:
    _signed_with_tlog(case)
    stranger = Authority()
    run = case.run(*case.key_args(), "--trusted-root", case.file("r.json", stranger.trusted_root()))
    assert run.code == 1 and kinds(run) == {"tlog_invalid"}


def test_changed_set_is_tlog_invalid(case: Case) -> None:
    payload = cosign_payload(case.digests[0])
    signature = sign(case.key, payload)
    rekor = json.loads(case.auth.rekor_bundle(payload, signature, pem(case.key)))
    rekor["Payload"]["logIndex"] = 8  # the SET covered index 7
    add_signature(
        case.written,
        case.digests[0],
        key=case.key,
        payload=payload,
        signature=signature,
        rekor=json.dumps(rekor),
    )
    run = case.run(*case.key_args(), *case.root_args())
    assert run.code == 1 and kinds(run) == {"tlog_invalid"}


def test_attestation_about_another_image_is_a_mismatch(case: Case) -> None:
    add_attestation(case.written, case.digests[0], key=case.key, names="sha256:" + "ef" * 32)
    run = case.run(*case.key_args())
    assert run.code == 1 and kinds(run) == {"signature_mismatch"}


def test_one_layer_byte_changed_makes_the_signature_not_count(case: Case) -> None:
    add_signature(case.written, case.digests[0], key=case.key)
    name = case.written.layer_names[0]
    case.written.files[name] = flip(case.written.files[name])
    run = case.run(*case.key_args())
    assert run.code == 1 and "digest_mismatch" in kinds(run)
    assert outcomes(run) == [("cosign", "unverified_bytes")]
    run = case.run(*case.key_args(), "--require-signature")
    assert run.code == 1 and "unsigned" in kinds(run)


# --- policy ---------------------------------------------------------------------------------


def test_unsigned_image_fails_require_signature(case: Case) -> None:
    run = case.run(*case.key_args(), "--require-signature")
    assert run.code == 1 and kinds(run) == {"unsigned"}
    assert case.run(*case.key_args()).code == 0


def test_require_tlog(case: Case) -> None:
    add_signature(case.written, case.digests[0], key=case.key)
    assert case.run(*case.key_args(), "--require-signature").code == 0
    run = case.run(*case.key_args(), "--require-tlog", "--require-signature")
    assert run.code == 1 and kinds(run) == {"signature_untrusted", "unsigned"}


def test_sign_identity_and_reference(case: Case) -> None:
    payload = cosign_payload(case.digests[0], reference="other.example/app:9")
    add_signature(case.written, case.digests[0], key=case.key, payload=payload)
    run = case.run(*case.key_args(), "--require-signature")
    assert run.code == 0 and kinds(run) == {"signature_reference_mismatch"}
    run = case.run(*case.key_args(), "--sign-identity", REFERENCE, "--require-signature")
    assert run.code == 1 and kinds(run) == {"signature_untrusted", "unsigned"}
    run = case.run(*case.key_args(), "--sign-identity", "other.example/app:9")
    assert run.code == 0 and outcomes(run) == [("cosign", "verified")]


def test_notation_is_listed_not_verified(case: Case) -> None:
    add_referrer(case.written, case.digests[0], NOTATION, b'{"sig":1}', "application/jose+json")
    run = case.run(*case.key_args())
    assert run.code == 0 and kinds(run) == {"signature_unsupported"}
    (sig,) = run.json()["signatures"]
    assert (sig["format"], sig["outcome"], sig["subject"]) == (
        "notation",
        "unsupported",
        case.digests[0],
    )


def test_signatures_found_without_trust_are_listed(case: Case) -> None:
    add_signature(case.written, case.digests[0], key=case.key)
    run = case.run("--require-signature")
    assert run.code == 1 and kinds(run) == {"unsigned"}
    assert outcomes(run) == [("cosign", "no_trust")]


# --- --bundle FILE ---------------------------------------------------------------------------


def test_bundle_file_for_the_manifest(case: Case) -> None:
    manifest = case.written.files["blobs/sha256/" + case.digests[0][7:]]
    good = case.file("good.sigstore.json", key_bundle(case.key, manifest))
    run = case.run(*case.key_args(), "--bundle", good, "--require-signature")
    assert run.code == 0, run.out
    other = case.file("other.sigstore.json", key_bundle(case.key, b"another manifest"))
    run = case.run(*case.key_args(), "--bundle", other, "--require-signature")
    assert run.code == 1 and kinds(run) == {"signature_mismatch", "unsigned"}


def test_index_signature_covers_its_manifests(tmp_path: Path) -> None:
    """A signature on a nested index counts for the manifests it lists."""
    case = Case(tmp_path, "layout")
    index = json.loads(case.written.files["index.json"])
    inner = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": index["manifests"],
    }
    data = json.dumps(inner).encode()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    case.written.files["blobs/sha256/" + digest[7:]] = data
    index["manifests"] = [
        {
            "mediaType": inner["mediaType"],
            "digest": digest,
            "size": len(data),
            "annotations": {"org.opencontainers.image.ref.name": "1.0"},
        }
    ]
    case.written.files["index.json"] = json.dumps(index).encode()
    add_signature(case.written, digest, key=case.key)
    run = case.run(*case.key_args(), "--require-signature")
    assert run.code == 0, run.out
    assert outcomes(run) == [("cosign", "verified")]


def test_bad_key_file_is_exit_2(tmp_path: Path) -> None:
    case = Case(tmp_path, "layout")
    run = case.run("--key", case.file("bad.pub", b"not a key"))
    assert run.code == 2 and "not a PEM public key" in run.err and "Traceback" not in run.err
    run = case.run("--key", str(tmp_path / "absent.pub"))
    assert run.code == 2 and "Traceback" not in run.err


def test_plain_verify_imports_no_cryptography(tmp_path: Path) -> None:
    case = Case(tmp_path, "layout")
    target = str(to_dir(case.written, tmp_path / "export"))
    probe = (
        "import sys; sys.argv = ['ocianalyze', *sys.argv[1:]]\n"
        "from ocianalyze.cli import _run\n"
        "code = _run()\n"
        "heavy = [m for m in ('cryptography', 'sigstore') if m in sys.modules]\n"
        "print('HEAVY', heavy, code, file=sys.stderr)\n"
    )
    for args in (["--version"], ["verify", "-q", target]):
        proc = subprocess.run(
            [sys.executable, "-c", probe, *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert "HEAVY [] 0" in proc.stderr, proc.stderr


def test_report_text_and_markdown_show_signers(tmp_path: Path) -> None:
    case = Case(tmp_path, "layout")
    add_signature(case.written, case.digests[0], key=case.key)
    target = str(to_dir(case.written, tmp_path / "export"))
    text = run_cli("report", target, *case.key_args())
    assert text.code == 0
    assert f"cosign verified by {fingerprint(case.key)}" in text.out
    assert "  signed    yes" in text.out
    md = run_cli("report", "-f", "markdown", target, *case.key_args())
    assert md.code == 0, md.err
    assert f"Signed by: {fingerprint(case.key)} (cosign)" in md.out


def test_legacy_save_cannot_be_signed(tmp_path: Path) -> None:
    case = Case(tmp_path, "layout")
    target = str(to_dir(legacy([ExportImage([layer_tar({"a": b"a"})])]), tmp_path / "legacy"))
    run = run_cli("verify", "-f", "json", target, *case.key_args(), "--require-signature")
    assert run.code == 1 and kinds(run) == {"unsigned"}
    assert "legacy docker save keeps no manifest" in run.json()["problems"][0]["message"]


def test_a_bad_key_is_said_before_the_export_is_read(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pub"
    bad.write_bytes(b"-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    run = run_cli("verify", str(tmp_path / "no-such-export"), "--key", str(bad))
    assert run.code == 2 and run.err.startswith(f"ocianalyze: {bad}: not a PEM public key")


def _as_cosign_save(w: Written, saved: str) -> None:
    """Rewrite index.json as ``cosign save`` writes it: no names, a "kind" annotation on the
    saved image and on its signatures and attestations (other manifests: none)."""
    index = json.loads(w.files["index.json"])
    for entry in index["manifests"]:
        ref = entry.pop("annotations", {}).get("org.opencontainers.image.ref.name", "")
        kind = "sigs" if ref.endswith(".sig") else "atts" if ref.endswith(".att") else "image"
        if kind != "image" or entry["digest"] == saved:
            entry["annotations"] = {"kind": f"dev.cosignproject.cosign/{kind}"}
    w.files["index.json"] = json.dumps(index).encode()


@pytest.mark.parametrize("fmt", ["layout", "stdin"])
def test_cosign_save_layout(fmt: str, tmp_path: Path) -> None:
    case = Case(tmp_path, fmt)
    add_signature(case.written, case.digests[0], key=case.key)
    add_attestation(case.written, case.digests[0], key=case.key)
    _as_cosign_save(case.written, case.digests[0])
    run = case.run(*case.key_args(), "--require-signature")
    assert run.code == 0, run.out
    assert outcomes(run) == [("cosign", "verified"), ("cosign-attestation", "verified")]
    # The saved signature names another manifest of the export than the image saved.
    (tmp_path / "other").mkdir()
    case = Case(tmp_path / "other", fmt, n=2)
    add_signature(case.written, case.digests[0], key=case.key, names=case.digests[1])
    _as_cosign_save(case.written, case.digests[0])
    run = case.run(*case.key_args())
    assert run.code == 1 and kinds(run) == {"signature_mismatch"}


@pytest.mark.parametrize(
    ("rekor", "payload", "kind"),
    [
        ('{"SignedEntryTimestamp": 5, "Payload": []}', None, "tlog_invalid"),
        ('{"Payload": {"body": "e30="}}', None, "tlog_invalid"),
        ("not json", None, "tlog_invalid"),
        (None, b'{"critical": []}', "signature_invalid"),
        (None, b"\xff\xfe not json", "signature_invalid"),
    ],
)
def test_malformed_signatures_are_findings(
    rekor: str | None, payload: bytes | None, kind: str, tmp_path: Path
) -> None:
    case = Case(tmp_path, "layout")
    add_signature(case.written, case.digests[0], key=case.key, payload=payload, rekor=rekor)
    run = case.run(*case.key_args(), *case.root_args())
    assert run.code == 1 and kinds(run) == {kind}, run.err
    assert "Traceback" not in run.err


def test_index_signature_with_one_bad_platform(tmp_path: Path) -> None:
    """Signed as an index: the platform whose layer changed is unsigned, the other still
    counts (its manifest and every blob it names verified)."""
    case = Case(tmp_path, "layout", n=2)
    index = json.loads(case.written.files["index.json"])
    inner = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": index["manifests"],
    }
    data = json.dumps(inner).encode()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    case.written.files["blobs/sha256/" + digest[7:]] = data
    ref = {"org.opencontainers.image.ref.name": "multi"}
    entry = {"mediaType": inner["mediaType"], "digest": digest, "size": len(data)}
    index["manifests"] = [{**entry, "annotations": ref}]
    case.written.files["index.json"] = json.dumps(index).encode()
    add_signature(case.written, digest, key=case.key)
    name = case.written.layer_names[0]  # the first image's one layer
    case.written.files[name] = flip(case.written.files[name])
    run = case.run(*case.key_args(), "--require-signature")
    assert run.code == 1
    assert outcomes(run) == [("cosign", "unverified_bytes")]
    doc = run.json()
    signed = {i["manifest_digest"]: i["signed"] for i in doc["images"] if i["kind"] == "image"}
    assert signed == {case.digests[0]: False, case.digests[1]: True}
    unsigned = [p["digest"] for p in doc["problems"] if p["kind"] == "unsigned"]
    assert unsigned == [case.digests[0]]


def test_attestation_with_its_intoto_rekor_entry(tmp_path: Path) -> None:
    case = Case(tmp_path, "layout")
    add_attestation(case.written, case.digests[0], key=case.key, authority=case.auth)
    run = case.run(*case.key_args(), *case.root_args(), "--require-tlog")
    assert run.code == 0, run.out
    (att,) = run.json()["signatures"]
    assert (att["outcome"], att["tlog"]) == ("verified", "rekor SET (log index 7)")
    # An entry swapped in from another attestation records another payload and signature.
    swapped = Case(tmp_path / "swapped", "layout")
    (tmp_path / "swapped").mkdir()
    logged = statement("sha256:" + "99" * 32)
    add_attestation(swapped.written, swapped.digests[0], key=swapped.key,
                    authority=swapped.auth, logged=logged)  # fmt: skip
    run = swapped.run(*swapped.key_args(), *swapped.root_args())
    assert run.code == 1 and kinds(run) == {"tlog_invalid"}


def test_an_attestation_alone_does_not_sign_the_image(case: Case) -> None:
    """A verified attestation is listed, but --require-signature wants a signature, as cosign's
    `verify` does (an attestation is `verify-attestation`'s business)."""
    add_attestation(case.written, case.digests[0], key=case.key)
    run = case.run(*case.key_args(), "--require-signature")
    assert run.code == 1, (run.out, run.err)
    assert outcomes(run) == [("cosign-attestation", "verified")]
    assert kinds(run) == {"unsigned"}
