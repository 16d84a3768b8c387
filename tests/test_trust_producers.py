"""A producer for each signature problem kind, in the shape of test_kind_producers.PRODUCERS
(build an export under the folder, return the command to run), so that table can take them:
``PRODUCERS.update(TRUST_PRODUCERS)``. Each is also run here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ocianalyze.errors import Kind

from .conftest import run_cli
from .exports import Written, to_dir
from .test_trust_build import (
    NOTATION,
    Authority,
    add_attestation,
    add_referrer,
    add_signature,
    cosign_payload,
    image_export,
    new_key,
    pem,
    sign,
)

Producer = Callable[[Path], list[str]]
KEY = new_key()


def _command(root: Path, w: Written, *extra: str) -> list[str]:
    key = root.parent / "trusted.pub"
    key.write_bytes(pem(KEY))
    return ["verify", "--format", "json", str(to_dir(w, root)), "--key", str(key), *extra]


def _invalid(root: Path) -> list[str]:
    w, d = image_export()
    payload = cosign_payload(d[0])
    add_signature(w, d[0], key=KEY, payload=payload, signature=sign(new_key(), payload))
    return _command(root, w)


def _untrusted(root: Path) -> list[str]:
    w, d = image_export()
    add_signature(w, d[0], key=KEY)
    return _command(root, w, "--require-tlog")


def _mismatch(root: Path) -> list[str]:
    w, d = image_export()
    add_attestation(w, d[0], key=KEY, names="sha256:" + "ab" * 32)
    return _command(root, w)


def _tlog(root: Path) -> list[str]:
    w, d = image_export()
    auth = Authority()
    payload = cosign_payload(d[0])
    signature = sign(KEY, payload)
    rekor = auth.rekor_bundle(payload, signature, pem(KEY))
    add_signature(w, d[0], key=KEY, payload=payload, signature=signature, rekor=rekor)
    stranger = root.parent / "stranger_root.json"
    stranger.write_bytes(Authority().trusted_root())
    return _command(root, w, "--trusted-root", str(stranger))


def _unsigned(root: Path) -> list[str]:
    w, _ = image_export()
    return _command(root, w, "--require-signature")


def _reference(root: Path) -> list[str]:
    w, d = image_export()
    add_signature(w, d[0], key=KEY, payload=cosign_payload(d[0], "other.example/x:9"))
    return _command(root, w)


def _unsupported(root: Path) -> list[str]:
    w, d = image_export()
    add_referrer(w, d[0], NOTATION, b'{"sig":1}', "application/jose+json")
    return _command(root, w)


TRUST_PRODUCERS: dict[Kind, Producer] = {
    Kind.SIGNATURE_INVALID: _invalid,
    Kind.SIGNATURE_UNTRUSTED: _untrusted,
    Kind.SIGNATURE_MISMATCH: _mismatch,
    Kind.TLOG_INVALID: _tlog,
    Kind.UNSIGNED: _unsigned,
    Kind.SIGNATURE_REFERENCE: _reference,
    Kind.SIGNATURE_UNSUPPORTED: _unsupported,
}


@pytest.mark.parametrize("kind", list(TRUST_PRODUCERS), ids=[k.value for k in TRUST_PRODUCERS])
def test_the_producer_produces_exactly_its_kind(kind: Kind, tmp_path: Path) -> None:
    run = run_cli(*TRUST_PRODUCERS[kind](tmp_path / "export"))
    problems = run.json()["problems"]
    assert {p["kind"] for p in problems} == {kind.value}, run.err
    assert run.code == (1 if problems[0]["severity"] == "error" else 0)
