"""Simple signing against the real tools: gpg makes a key, skopeo signs a ``dir:`` export with
it, and ``skopeo standalone-verify`` is asked the same question as our check, valid and
tampered.

What the check is given as ``verified`` is computed here, independently of ocianalyze: the
digest of ``manifest.json``'s bytes, and every file named by bare hex whose bytes hash to its
name. Skipped cleanly when gpg or skopeo is absent.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ocianalyze.digest import Digest
from ocianalyze.errors import Unreadable
from ocianalyze.sources import open_export
from ocianalyze.trust import Evidence, Outcome, SignatureFormat, Trust, simplesign

from .conftest import run_cli, tree_digest
from .exports import OCI_MANIFEST, REF, Image, cj, flip, layer_tar, oci, to_dir
from .test_one_verdict import image_manifest, layout, put

INDEX = "application/vnd.oci.image.index.v1+json"

pytestmark = pytest.mark.skipif(
    shutil.which("gpg") is None or shutil.which("skopeo") is None,
    reason="simple-signing interop tests need gpg and skopeo on PATH",
)

IDENTITY = "example.com/app:1.0"


@dataclass
class Signed:
    """A signing home, its key's fingerprint and exported public key (binary and armored), a
    second key's, and a dir: export skopeo signed with the first."""

    home: Path
    fpr: str
    pub: Path
    pub_armored: Path
    other_fpr: str
    other_pub: Path
    out: Path
    layout: Path
    tmp: Path


def _run(argv: list[str], env: dict[str, str], data: bytes | None = None) -> bytes:
    proc = subprocess.run(argv, input=data, capture_output=True, timeout=120, check=False, env=env)
    assert proc.returncode == 0, (argv, proc.stderr.decode())
    return proc.stdout


def _genkey(env: dict[str, str], uid: str) -> str:
    _run(
        ["gpg", "--batch", "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never"],
        env,
    )
    listing = _run(["gpg", "--batch", "--with-colons", "--list-keys", uid], env).decode()
    return next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "GNUPGHOME": str(home), "TMPDIR": str(home.parent)}


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Signed]:
    tmp = tmp_path_factory.mktemp("ss")
    home = tmp / "gh"
    home.mkdir(mode=0o700)
    env = _env(home)
    try:
        fpr = _genkey(env, "Signer <signer@example.com>")
        other = _genkey(env, "Other <other@example.com>")
        pub, armored, other_pub = tmp / "pub.gpg", tmp / "pub.asc", tmp / "other.gpg"
        pub.write_bytes(_run(["gpg", "--batch", "--export", fpr], env))
        armored.write_bytes(_run(["gpg", "--batch", "--armor", "--export", fpr], env))
        other_pub.write_bytes(_run(["gpg", "--batch", "--export", other], env))
        layout = to_dir(
            oci([Image([layer_tar({"etc/app": b"v1\n" * 50})], tag="1.0")]), tmp / "layout"
        )
        out = tmp / "out"
        copy = ["skopeo", "copy", "--quiet", "--insecure-policy", "--sign-by", fpr]
        _run([*copy, "--sign-identity", IDENTITY, f"oci:{layout}:1.0", f"dir:{out}"], env)
        yield Signed(home, fpr, pub, armored, other, other_pub, out, layout, tmp)
    finally:
        subprocess.run(["gpgconf", "--kill", "all"], env=env, check=False, capture_output=True)


def verified_in(out: Path) -> set[Digest]:
    """Independently of ocianalyze: manifest.json's digest and every file named by hex (blobs,
    and instance manifests ``<hex>.manifest.json``) whose bytes hash to its name."""
    found = {Digest("sha256", hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest())}
    for p in out.iterdir():
        name = p.name.removesuffix(".manifest.json")  # an instance manifest of an index
        if len(name) == 64 and hashlib.sha256(p.read_bytes()).hexdigest() == name:
            found.add(Digest("sha256", name))
    return found


def check(out: Path, *keys: Path) -> list[Evidence]:
    export = open_export(str(out))
    return simplesign.check(export, verified_in(out), Trust(keys=tuple(map(str, keys))))


def copy_of(signed: Signed, name: str) -> Path:
    dst = signed.tmp / name
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(signed.out, dst)
    return dst


def skopeo_verifies(signed: Signed, out: Path) -> bool:
    argv = ["skopeo", "standalone-verify", str(out / "manifest.json"), IDENTITY, signed.fpr]
    sig = str(out / "signature-1")
    env = _env(signed.home)
    proc = subprocess.run([*argv, sig], capture_output=True, timeout=60, check=False, env=env)
    return proc.returncode == 0


def manifest_digest(out: Path) -> str:
    return "sha256:" + hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest()


# --- the signed export as skopeo wrote it ----------------------------------------------------


def test_verified_with_the_public_key(signed: Signed) -> None:
    (ev,) = check(signed.out, signed.pub)
    assert ev.format is SignatureFormat.SIMPLE_SIGNING
    assert ev.outcome is Outcome.VERIFIED, ev.reason
    assert ev.subject == manifest_digest(signed.out)
    assert ev.signer == signed.fpr
    assert ev.reference == IDENTITY
    assert ev.source == "signature-1"
    assert skopeo_verifies(signed, signed.out)


def test_an_armored_key_and_a_pem_key_beside_it(signed: Signed) -> None:
    pem = signed.tmp / "cosign.pub"
    pem.write_text("-----BEGIN PUBLIC KEY-----\nnot ours\n-----END PUBLIC KEY-----\n")
    (ev,) = check(signed.out, pem, signed.pub_armored)
    assert ev.outcome is Outcome.VERIFIED and ev.signer == signed.fpr


def test_wrong_key_is_untrusted(signed: Signed) -> None:
    (ev,) = check(signed.out, signed.other_pub)
    assert ev.outcome is Outcome.UNTRUSTED, ev.reason
    assert ev.signer == signed.fpr  # the issuer fingerprint the signature names


def test_no_openpgp_key_is_no_trust(signed: Signed) -> None:
    pem = signed.tmp / "only.pem"
    pem.write_text("-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----\n")
    for keys in ((), (pem,)):
        (ev,) = check(signed.out, *keys)
        assert ev.outcome is Outcome.NO_TRUST
        assert ev.subject == manifest_digest(signed.out)


def test_the_users_keyring_is_not_touched(signed: Signed, monkeypatch: pytest.MonkeyPatch) -> None:
    before = tree_digest(signed.home)
    monkeypatch.setenv("GNUPGHOME", str(signed.home))
    (ev,) = check(signed.out, signed.other_pub)
    assert ev.outcome is Outcome.UNTRUSTED  # the signing key sits in GNUPGHOME: never used
    assert tree_digest(signed.home) == before


# --- one byte changed --------------------------------------------------------------------------


def test_a_layer_byte_changed(signed: Signed) -> None:
    out = copy_of(signed, "layer")
    manifest = (out / "manifest.json").read_text()
    layer = out / manifest.split('"layers":[')[1].split('"digest":"sha256:')[1][:64]
    layer.write_bytes(flip(layer.read_bytes()))
    (ev,) = check(out, signed.pub)
    assert ev.outcome is Outcome.UNVERIFIED_BYTES, ev.reason
    # skopeo checks the signature against manifest.json only: for it the signature holds,
    # as it does for us; the layer is what we refuse.
    assert skopeo_verifies(signed, out)


def test_a_manifest_byte_changed(signed: Signed) -> None:
    out = copy_of(signed, "manifest")
    data = (out / "manifest.json").read_bytes()
    at = data.rindex(b'"size":') + len(b'"size":')
    while data[at + 1 : at + 2].isdigit():  # the layer size's last digit: still valid JSON
        at += 1
    (out / "manifest.json").write_bytes(data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :])
    (ev,) = check(out, signed.pub)
    assert ev.outcome is Outcome.MISMATCH, ev.reason
    assert ev.subject == manifest_digest(signed.out)  # what the payload signs: the original
    assert not skopeo_verifies(signed, out)


@pytest.mark.parametrize("at", [-1, -20, 60])
def test_a_signature_byte_changed(signed: Signed, at: int) -> None:
    """Invalid, as skopeo finds it. The message is deflated, so a flipped bit may leave what
    was signed whole: in about one run in fifteen (a fresh key each run), flipping the last
    byte's low bit starts a new deflate block after the signature packet, which inflates to a
    trailing packet of garbage; gpg and skopeo then still verify it (good signature, same
    payload), and so must we. skopeo is the oracle for each case."""
    out = copy_of(signed, f"sig{at}")
    sig = out / "signature-1"
    data = sig.read_bytes()
    sig.write_bytes(flip(data, len(data) + at if at < 0 else at))
    (ev,) = check(out, signed.pub)
    expected = Outcome.VERIFIED if skopeo_verifies(signed, out) else Outcome.INVALID
    assert ev.outcome is expected, ev.reason
    if at != -1:
        assert expected is Outcome.INVALID  # inside the deflated packets: always invalid


def test_a_signature_for_another_image(signed: Signed) -> None:
    """A valid signature of one image laid beside another: valid, trusted, not for this one."""
    other = signed.tmp / "other-layout"
    to_dir(oci([Image([layer_tar({"etc/app": b"v2\n"})], tag="1.0")]), other)
    out = signed.tmp / "other-out"
    shutil.rmtree(out, ignore_errors=True)
    env = _env(signed.home)
    _run(["skopeo", "copy", "--quiet", "--insecure-policy", f"oci:{other}:1.0", f"dir:{out}"], env)
    shutil.copy(signed.out / "signature-1", out / "signature-1")
    (ev,) = check(out, signed.pub)
    assert ev.outcome is Outcome.MISMATCH
    assert ev.subject == manifest_digest(signed.out)
    assert not skopeo_verifies(signed, out)


def test_a_signed_payload_that_is_not_simple_signing(signed: Signed) -> None:
    out = copy_of(signed, "payload")
    payload = b'{"critical":{"type":"atomic container signature"},"optional":{}}'
    argv = ["gpg", "--batch", "--local-user", signed.fpr, "--sign"]
    (out / "signature-1").write_bytes(_run(argv, _env(signed.home), payload))
    (ev,) = check(out, signed.pub)
    assert ev.outcome is Outcome.INVALID
    assert "not a simple-signing payload" in ev.reason
    assert ev.signer == signed.fpr


def test_a_detached_signature_is_not_a_signed_message(signed: Signed) -> None:
    out = copy_of(signed, "detached")
    argv = ["gpg", "--batch", "--local-user", signed.fpr, "--detach-sign"]
    (out / "signature-1").write_bytes(_run(argv, _env(signed.home), b"{}"))
    (ev,) = check(out, signed.pub)
    assert ev.outcome is Outcome.INVALID


def test_a_second_signature_file_and_another_format(signed: Signed) -> None:
    out = copy_of(signed, "two")
    shutil.copy(out / "signature-1", out / "signature-2")
    (out / "signature-3").write_bytes(b"\x00sigstore-json\n{}")
    (out / "signature-5").write_bytes(b"after a gap: never read")
    found = check(out, signed.pub)
    assert [(e.source, e.outcome) for e in found] == [
        ("signature-1", Outcome.VERIFIED),
        ("signature-2", Outcome.VERIFIED),
        ("signature-3", Outcome.UNSUPPORTED),
    ]


def test_a_private_key_is_refused(signed: Signed) -> None:
    secret = signed.tmp / "secret.asc"
    argv = ["gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "", "--armor"]
    secret.write_bytes(_run([*argv, "--export-secret-keys", signed.fpr], _env(signed.home)))
    with pytest.raises(Unreadable, match="private key"):
        check(signed.out, secret)


def test_a_missing_key_file_is_unreadable(signed: Signed) -> None:
    with pytest.raises(Unreadable):
        check(signed.out, signed.tmp / "no-such.gpg")


def test_other_formats_carry_no_simple_signing(signed: Signed) -> None:
    export = open_export(str(signed.layout))
    assert simplesign.check(export, set(), Trust(keys=(str(signed.pub),))) == []


# --- the command line (wired by the trust orchestrator) -------------------------------------


def test_cli_require_signature(signed: Signed) -> None:
    if "--key" not in run_cli("verify", "--help").out:
        pytest.skip("verify has no --key option yet")
    ok = run_cli("verify", "--key", str(signed.pub), "--require-signature", str(signed.out))
    assert ok.code == 0, ok.err
    out = copy_of(signed, "cli-layer")
    manifest = (out / "manifest.json").read_text()
    layer = out / manifest.split('"layers":[')[1].split('"digest":"sha256:')[1][:64]
    layer.write_bytes(flip(layer.read_bytes()))
    bad = run_cli("verify", "--key", str(signed.pub), "--require-signature", str(out))
    assert bad.code == 1, bad.err
    wrong = run_cli(
        "verify", "--key", str(signed.other_pub), "--require-signature", str(signed.out)
    )
    assert wrong.code == 1, wrong.err


def test_an_instance_signature_of_an_index(signed: Signed) -> None:
    """skopeo copy --all of an index: the signed manifest becomes an instance, and its
    signature sits beside it as <hex>.signature-1 (containers/image's signaturePath)."""
    signed_manifest = (signed.out / "manifest.json").read_bytes()
    root = signed.tmp / "index-layout"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(signed.layout, root)
    other = image_manifest(root, [layer_tar({"b": b"b"})])
    first = {"mediaType": OCI_MANIFEST, "digest": manifest_digest(signed.out)}
    first["size"] = len(signed_manifest)  # type: ignore[assignment]
    index = {"schemaVersion": 2, "mediaType": INDEX, "manifests": [first, other]}
    layout(root, [{"mediaType": INDEX, **put(root, cj(index)), "annotations": {REF: "1.0"}}])
    out = signed.tmp / "index-out"
    shutil.rmtree(out, ignore_errors=True)
    copy = ["skopeo", "copy", "--quiet", "--insecure-policy", "--all"]
    _run([*copy, f"oci:{root}:1.0", f"dir:{out}"], _env(signed.home))
    hexdigest = manifest_digest(signed.out)[7:]
    assert (out / f"{hexdigest}.manifest.json").read_bytes() == signed_manifest
    shutil.copy(signed.out / "signature-1", out / f"{hexdigest}.signature-1")
    shutil.copy(signed.out / "signature-1", out / "signature-1")  # on the index: not for it
    found = check(out, signed.pub)
    assert [(e.source, e.outcome, e.subject) for e in found] == [
        ("signature-1", Outcome.MISMATCH, manifest_digest(signed.out)),
        (f"{hexdigest}.signature-1", Outcome.VERIFIED, manifest_digest(signed.out)),
    ]


def test_a_damaged_openpgp_key_is_unreadable(signed: Signed) -> None:
    damaged = signed.tmp / "damaged.gpg"
    damaged.write_bytes(signed.pub.read_bytes()[:20])
    with pytest.raises(Unreadable, match="not an OpenPGP public key"):
        check(signed.out, damaged)
