"""The tie to the bytes, held on the signature's side too: a signature counts only when the
manifest that carries it, and every blob of that manifest, verified in the same run (one byte
changed in a signature manifest or its config must not leave a ``verified`` signature behind),
in every container format."""

from __future__ import annotations

import json

import pytest

from .exports import flip, sha
from .test_trust_build import add_signature
from .test_trust_cosign import FORMATS, Case, kinds, outcomes


def _signature_manifest(case: Case) -> str:
    """The blob name of the last manifest index.json lists (the one ``add_signature`` wrote)."""
    index = json.loads(case.written.files["index.json"])
    return "blobs/sha256/" + index["manifests"][-1]["digest"][7:]


def _signed(case: Case) -> list[bool]:
    run = case.run(*case.key_args())
    return [i["signed"] for i in run.json()["images"] if i["kind"] == "image"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_changed_signature_manifest_does_not_count(fmt: str, tmp_path: object) -> None:
    case = Case(tmp_path, fmt)  # type: ignore[arg-type]
    add_signature(case.written, case.digests[0], key=case.key)
    name = _signature_manifest(case)
    data = case.written.files[name]
    changed = data.replace(b'"schemaVersion":2', b'"schemaVersion": 2')
    assert changed != data and sha(changed) != "sha256:" + name.rsplit("/", 1)[1]
    case.written.files[name] = changed  # still parses, still carries a valid signature
    run = case.run(*case.key_args(), "--require-signature")
    assert run.code == 1
    assert outcomes(run) == [("cosign", "unverified_bytes")]
    assert kinds(run) == {"size_mismatch", "unsigned"}
    assert _signed(case) == [False]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_changed_signature_config_does_not_count(fmt: str, tmp_path: object) -> None:
    case = Case(tmp_path, fmt)  # type: ignore[arg-type]
    add_signature(case.written, case.digests[0], key=case.key)
    manifest = json.loads(case.written.files[_signature_manifest(case)])
    name = "blobs/sha256/" + manifest["config"]["digest"][7:]
    case.written.files[name] = flip(case.written.files[name], 2)
    run = case.run(*case.key_args(), "--require-signature")
    assert run.code == 1
    assert outcomes(run) == [("cosign", "unverified_bytes")]
    assert {"digest_mismatch", "unsigned"} <= kinds(run)
    assert _signed(case) == [False]


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_intact_signature_still_counts(fmt: str, tmp_path: object) -> None:
    case = Case(tmp_path, fmt)  # type: ignore[arg-type]
    add_signature(case.written, case.digests[0], key=case.key)
    run = case.run(*case.key_args(), "--require-signature")
    assert run.code == 0 and outcomes(run) == [("cosign", "verified")]
    assert _signed(case) == [True]
