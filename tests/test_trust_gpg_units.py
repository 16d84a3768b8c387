"""Simple signing's pure parts, no gpg needed: gpg's status lines (GnuPG doc/DETAILS), the
strict payload (containers-signature(5)), docker reference normalisation, key sniffing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ocianalyze.digest import Digest
from ocianalyze.errors import OciError
from ocianalyze.sources import open_export
from ocianalyze.trust import Outcome, Trust, gpg, simplesign
from ocianalyze.trust.gpg import KeyKind, Status, key_kind, parse_status
from ocianalyze.trust.simplesign import normalize_reference, parse_payload, same_reference

from .exports import Image, layer_tar, skopeo_dir, to_dir

FPR = "D35055BC85F9BAFB8E19995671DFB8B3A31C1E97"
SUB = "0123456789ABCDEF0123456789ABCDEF01234567"
GOOD = [
    "[GNUPG:] PLAINTEXT 62 1796060125 ",
    "[GNUPG:] NEWSIG",
    "[GNUPG:] GOODSIG 71DFB8B3A31C1E97 Signer <s@example.com>",
    f"[GNUPG:] VALIDSIG {SUB} 2026-11-30 1796060125 0 4 0 22 10 00 {FPR}",
]
HEX = "c2aeef02eb95c7fa885597905f7de6ca2316c88a91ea5bd20b53ccbdbbfe2550"


def test_good_names_the_primary_key() -> None:
    assert parse_status(GOOD, 0) == (Status.GOOD, FPR, "good signature")


def test_good_needs_exit_zero_and_one_signature() -> None:
    assert parse_status(GOOD, 2)[0] is Status.ERROR
    assert parse_status([*GOOD, *GOOD[1:]], 0)[0] is Status.SEVERAL


@pytest.mark.parametrize(
    ("line", "status", "key"),
    [
        ("BADSIG 71DFB8B3A31C1E97 Signer", Status.BAD, "71DFB8B3A31C1E97"),
        (f"ERRSIG 71DFB8B3A31C1E97 22 10 00 1796060125 9 {FPR}", Status.NO_KEY, FPR),
        ("ERRSIG 71DFB8B3A31C1E97 22 10 00 1796060125 9 -", Status.NO_KEY, "71DFB8B3A31C1E97"),
        ("ERRSIG 71DFB8B3A31C1E97 99 10 00 1796060125 4 -", Status.ERROR, "71DFB8B3A31C1E97"),
        ("EXPKEYSIG 71DFB8B3A31C1E97 Signer", Status.EXPIRED, "71DFB8B3A31C1E97"),
        ("REVKEYSIG 71DFB8B3A31C1E97 Signer", Status.EXPIRED, "71DFB8B3A31C1E97"),
    ],
)
def test_bad_verdicts_win_over_good_lines(line: str, status: Status, key: str) -> None:
    got = parse_status(["[GNUPG:] NEWSIG", f"[GNUPG:] {line}", *GOOD[2:]], 0)
    assert got[:2] == (status, key)


def test_no_signature_at_all() -> None:
    assert parse_status(["[GNUPG:] NODATA 1"], 2)[0] is Status.NOT_SIGNED
    assert parse_status(["GOODSIG forged on a line gpg did not prefix"], 0)[0] is Status.NOT_SIGNED


def payload(**critical: object) -> bytes:
    body = {
        "type": "atomic container signature",
        "image": {"docker-manifest-digest": f"sha256:{HEX}"},
        "identity": {"docker-reference": "example.com/app:1.0"},
    }
    body.update(critical)
    return json.dumps({"critical": body, "optional": {"creator": "x", "timestamp": 1}}).encode()


def test_payload_as_skopeo_writes_it() -> None:
    assert parse_payload(payload()) == (Digest("sha256", HEX), "example.com/app:1.0")


@pytest.mark.parametrize(
    "bad",
    [
        payload(type="atomic container signature v2"),
        payload(extra="a member critical does not know"),
        payload(image={"docker-manifest-digest": f"sha256:{HEX}", "more": 1}),
        payload(identity={"docker-reference": 5}),
        payload(image={"docker-manifest-digest": "sha256:short"}),
        payload().replace(b'"timestamp": 1', b'"timestamp": "1"'),
        payload().replace(b'"optional"', b'"critical": {}, "optional"'),  # a duplicate member
        b'{"critical": {}}',
        b"\xff not utf-8",
        b"[]",
    ],
)
def test_payload_is_parsed_strictly(bad: bytes) -> None:
    with pytest.raises(ValueError):
        parse_payload(bad)


@pytest.mark.parametrize(
    ("ref", "normal"),
    [
        ("busybox", "docker.io/library/busybox:latest"),
        ("busybox:1", "docker.io/library/busybox:1"),
        ("user/app:2", "docker.io/user/app:2"),
        ("example.com/app:1.0", "example.com/app:1.0"),
        ("localhost:5000/app", "localhost:5000/app:latest"),
        (f"quay.io/a/b@sha256:{HEX}", f"quay.io/a/b@sha256:{HEX}"),
    ],
)
def test_reference_normalisation(ref: str, normal: str) -> None:
    assert normalize_reference(ref) == normal


def test_same_reference() -> None:
    assert same_reference("busybox", "docker.io/library/busybox:latest")
    assert not same_reference("example.com/app:1.0", "example.com/app:2.0")


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"\n-----BEGIN PGP PUBLIC KEY BLOCK-----\n", KeyKind.OPENPGP),
        (b"-----BEGIN PGP PRIVATE KEY BLOCK-----\n", KeyKind.OPENPGP_SECRET),
        (b"\x99\x01\x0d\x04", KeyKind.OPENPGP),  # gpg --export: an old-format v4 public key
        (b"\xc6\x33\x04", KeyKind.OPENPGP),
        (b"\x99garbage", KeyKind.OTHER),  # a public-key header whose body is no key version
        (b"\x99\x01", KeyKind.OTHER),  # a header and nothing after it
        (b"\x95\x01\x0d\x04", KeyKind.OPENPGP_SECRET),
        (b"-----BEGIN PUBLIC KEY-----\n", KeyKind.OTHER),
        (b"0\x82\x01", KeyKind.OTHER),
        (b"", KeyKind.OTHER),
    ],
)
def test_key_kind(data: bytes, kind: KeyKind) -> None:
    assert key_kind(data) is kind


def test_without_gpg_a_given_key_cannot_be_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Signatures and an OpenPGP key given, gpg absent: an error (exit 2), never a silent pass;
    with no OpenPGP key, gpg is not needed (no_trust)."""
    out = to_dir(skopeo_dir(Image([layer_tar({"a": b"a"})])), tmp_path / "out")
    (out / "signature-1").write_bytes(b"\xa3\x01 not checked")
    key = tmp_path / "pub.gpg"
    key.write_bytes(b"\x99\x01\x0d\x04" + bytes(40))
    monkeypatch.setattr(gpg.shutil, "which", lambda name: None)
    export = open_export(str(out))
    with pytest.raises(gpg.GpgUnavailable) as caught:
        simplesign.check(export, set(), Trust(keys=(str(key),)))
    assert isinstance(caught.value, OciError)
    (ev,) = simplesign.check(export, set(), Trust())
    assert (ev.outcome, ev.source) == (Outcome.NO_TRUST, "signature-1")
