"""A ``--key`` file whose first byte merely has its high bit set is not an OpenPGP public key:
it must be refused (exit 2, one line naming the file) whatever the export carries, not
skipped as if it were a key for simple signing (RFC 4880 4.2: a packet header, tag 6 for a
public key, whose body starts with the key version)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import run_cli
from .exports import to_dir
from .test_trust_build import add_signature
from .test_trust_cosign import Case

NOT_PEM = "not a PEM public key (nor an OpenPGP key)"


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\x99garbage and more garbage", NOT_PEM),  # a tag 6 header, no key version after it
        (b"\x95\x01\x0d\x04" + bytes(269), "an OpenPGP private key"),  # tag 5: a secret key
        (b"\xff" * 64, NOT_PEM),  # new-format tag 63
        (b"\x99\x01", NOT_PEM),  # a header and nothing after it
    ],
    ids=["tag6-garbage", "secret-key", "tag63", "truncated"],
)
def test_high_bit_garbage_key_is_exit_2(data: bytes, why: str, tmp_path: Path) -> None:
    case = Case(tmp_path, "layout")
    add_signature(case.written, case.digests[0], key=case.key)
    export = to_dir(case.written, tmp_path / "export")
    key = tmp_path / "k.gpg"
    key.write_bytes(data)
    run = run_cli("verify", str(export), "--key", str(key), "--require-signature")
    assert run.code == 2, (run.out, run.err)
    assert run.out == "" and run.err.count("\n") == 1
    assert run.err.startswith(f"ocianalyze: {key}: {why}")


def test_openpgp_public_key_headers_are_recognised() -> None:
    from ocianalyze.trust.keys import is_openpgp

    assert is_openpgp(b"\x99\x01\x0d\x04" + bytes(269))  # old format, 2-byte length, v4
    assert is_openpgp(b"\x98\x33\x04" + bytes(51))  # old format, 1-byte length, v4 (ed25519)
    assert is_openpgp(b"\xc6\x33\x04" + bytes(51))  # new format, 1-byte length, v4
    assert is_openpgp(b"\xc6\xc0\x10\x06" + bytes(208))  # new format, 2-byte length, v6
    assert is_openpgp(b"  -----BEGIN PGP PUBLIC KEY BLOCK-----\n")
    assert not is_openpgp(b"\x99garbage")
    assert not is_openpgp(b"-----BEGIN PUBLIC KEY-----\n")
