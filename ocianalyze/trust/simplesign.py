"""Containers "simple signing": OpenPGP signatures of a JSON payload naming a manifest digest,
as ``skopeo copy --sign-by`` writes them into a ``dir:`` export (``signature-1``, ...).

The format is containers/image's (docs/containers-signature.5.md, signature/simple.go): an
OpenPGP *signed* message (not a detached signature) whose literal data is
``{"critical": {"identity": {"docker-reference": R}, "image": {"docker-manifest-digest": D},
"type": "atomic container signature"}, "optional": {...}}``. As containers/image does, the
signature is checked (by ``gpg``, see ``gpg.py``) before the payload is parsed, the payload is
parsed strictly (no unknown or duplicate member in ``critical``), and ``D`` must match the
manifest the signature sits on, hashed with ``D``'s own algorithm (``manifest.MatchesDigest``).
Beyond ``skopeo standalone-verify``, the signature then counts only when that manifest and
every blob it references (for an index: every platform image it lists) verified in this run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ..digest import Digest
from ..errors import InvalidDigest, OciError, Unreadable
from ..model import Image
from ..sources import Export, ExportFormat
from ..sources.base import read_small
from ..sources.skopeo_dir import signature_names
from . import Evidence, Outcome, SignatureFormat, Trust
from .gpg import KeyKind, Keyring, Status, Verdict, key_kind, read_key

SIGNATURE_TYPE = "atomic container signature"
MAX_SIGNATURE = 4 << 20  # bytes: containers/image's bound on one signature
_TOP = "manifest.json"


def check(export: Export, verified: set[Digest], trust: Trust) -> list[Evidence]:
    """One ``Evidence`` per simple-signing signature the export carries (none for formats that
    keep no ``signature-N`` file), checked against the OpenPGP keys among ``trust.keys``.

    ``verified``: the blobs (manifests included) verified in this run. Keys that are not
    OpenPGP (PEM) are left to the other formats. Raises ``errors.Unreadable`` for a key file
    that cannot be read or holds a private or unimportable OpenPGP key, ``gpg.GpgUnavailable``
    when signatures and an OpenPGP key are given but gpg cannot run."""
    if export.format is not ExportFormat.DOCKER_DIR:
        return []
    top = next((d for d, name in export.locations.items() if name == _TOP), None)
    names = signature_names(export.storage, _instances(export, top))
    if not names:
        return []
    keys = _openpgp_keys(trust.keys)
    found = [(name, top if on is None else on, _read(export, name)) for name, on in names]
    if not keys:
        return [_no_trust(name, on, blob) for name, on, blob in found]
    with Keyring() as ring:
        for path, data in keys:
            ring.add(path, data)
        return [_one(export, verified, ring, name, on, blob) for name, on, blob in found]


def _instances(export: Export, top: Digest | None) -> list[Digest]:
    """Every manifest and index digest of the export but the top one, in a stable order."""
    digests = {
        img.manifest_descriptor.digest for img in export.model.images if img.manifest_descriptor
    }
    digests |= {ref.descriptor.digest for ref in export.model.indexes}
    if top is not None:
        digests.discard(top)
    return sorted(d for d in digests if d.hashable)


def _openpgp_keys(paths: tuple[str, ...]) -> list[tuple[str, bytes]]:
    keys = []
    for path in paths:
        data = read_key(path)
        kind = key_kind(data)
        if kind is KeyKind.OPENPGP_SECRET:
            raise Unreadable(path, "an OpenPGP private key: give the public key (gpg --export)")
        if kind is KeyKind.OPENPGP:
            keys.append((path, data))
    return keys


def _read(export: Export, name: str) -> bytes | str:
    """The signature's bytes, or why they cannot be read."""
    try:
        data = read_small(export.storage, name, MAX_SIGNATURE)
    except OciError as exc:
        return exc.problem
    return data if data is not None else "absent"


def _evidence(
    name: str, subject: Digest | None, outcome: Outcome, reason: str, **kw: Any
) -> Evidence:
    return Evidence(
        SignatureFormat.SIMPLE_SIGNING,
        str(subject) if subject else None,
        outcome,
        reason,
        name,
        **kw,
    )


def _no_trust(name: str, on: Digest | None, blob: bytes | str) -> Evidence:
    if isinstance(blob, str):
        return _evidence(name, on, Outcome.MALFORMED, f"cannot be read: {blob}")
    return _evidence(name, on, Outcome.NO_TRUST, "no OpenPGP public key given (--key): not checked")


def _one(
    export: Export,
    verified: set[Digest],
    ring: Keyring,
    name: str,
    on: Digest | None,
    blob: bytes | str,
) -> Evidence:
    """Check one signature file that sits on the manifest ``on``."""
    if isinstance(blob, str):
        return _evidence(name, on, Outcome.MALFORMED, f"cannot be read: {blob}")
    if blob[:1] == b"\x00":  # containers/image's prefix for a signature of another format
        kind = blob[1:].partition(b"\n")[0][:80].decode("ascii", "replace")
        return Evidence(
            SignatureFormat.COSIGN,
            str(on) if on else None,
            Outcome.UNSUPPORTED,
            f"a {kind!r} signature (not simple signing): not verified by this version",
            name,
        )
    verdict = ring.verify(blob)
    if verdict.status is Status.NO_KEY:
        why = f"{verdict.detail}: signature not checked"
        return _evidence(name, on, Outcome.UNTRUSTED, why, signer=verdict.fingerprint)
    if verdict.status is not Status.GOOD:
        return _evidence(name, on, Outcome.INVALID, verdict.detail, signer=verdict.fingerprint)
    return _signed(export, verified, name, on, verdict)


def _signed(
    export: Export, verified: set[Digest], name: str, on: Digest | None, verdict: Verdict
) -> Evidence:
    """A good signature by a given key: what its payload claims, against the export."""
    signer = verdict.fingerprint
    try:
        digest, reference = parse_payload(verdict.payload)
    except ValueError as exc:
        why = f"signed, but not a simple-signing payload: {exc}"
        return _evidence(name, on, Outcome.INVALID, why, signer=signer)
    kw: dict[str, Any] = {"signer": signer, "reference": reference}
    if on is None or not _matches(export, on, digest):
        where = f"the manifest it sits on is {on}" if on else "the export has no manifest.json"
        return _evidence(name, digest, Outcome.MISMATCH, f"signs {digest}; {where}", **kw)
    failed = [d for d in _covered(export, on) if d not in verified]
    if failed:
        why = f"valid for {on}, but {len(failed)} of its blobs did not verify (first: {failed[0]})"
        return _evidence(name, on, Outcome.UNVERIFIED_BYTES, why, **kw)
    return _evidence(name, on, Outcome.VERIFIED, _verified_reason(export, signer, reference), **kw)


def _verified_reason(export: Export, signer: str | None, reference: str) -> str:
    refs = {r for img in export.model.images for r in img.refs}
    refs |= {r for ref in export.model.indexes for r in ref.refs}
    said = f"signed by {signer} as {reference}"
    if not refs:
        return f"{said} (the export names no reference)"
    if any(same_reference(r, reference) for r in refs):
        return said
    return f"{said}; the export names it {', '.join(sorted(refs))}"


def _matches(export: Export, on: Digest, signed: Digest) -> bool:
    """Whether the manifest ``on`` hashes to ``signed`` by ``signed``'s algorithm."""
    if signed == on:
        return True
    if not signed.hashable or signed.algorithm == on.algorithm:
        return False
    location = export.locations.get(on)
    try:
        data = read_small(export.storage, location) if location else None
    except OciError:
        return False
    return data is not None and Digest.of(data, signed.algorithm) == signed


def _covered(export: Export, digest: Digest) -> Iterator[Digest]:
    """The manifest or index ``digest`` and every blob under it (an index covers the platform
    images it lists, nested indexes included); a listed manifest the export lacks is yielded
    too, so it counts as not verified."""
    yield digest
    indexes = {ref.descriptor.digest: ref for ref in export.model.indexes}
    images: dict[Digest, Image] = {
        img.manifest_descriptor.digest: img
        for img in export.model.images
        if img.manifest_descriptor
    }
    todo, seen = [digest], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        if current in images:
            img = images[current]
            yield img.config_descriptor.digest
            yield from (layer.digest for layer in img.layers)
        elif current in indexes:
            for child in indexes[current].index.manifests:
                yield child.digest
                todo.append(child.digest)


def parse_payload(payload: bytes) -> tuple[Digest, str]:
    """The manifest digest and docker-reference a simple-signing payload claims, parsed as
    strictly as containers/image (signature/simple.go, untrustedSignature.strictUnmarshalJSON):
    exactly ``critical`` and ``optional`` at the top, exactly ``type``, ``image`` and
    ``identity`` in ``critical``, one member each in ``image`` and ``identity``, no duplicate
    member anywhere; ``optional.timestamp``, when present, an integer. Raises ValueError."""
    try:
        doc = json.loads(payload.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"not JSON ({exc})") from None
    top = _exact(doc, {"critical", "optional"}, "the document")
    critical = _exact(top["critical"], {"type", "image", "identity"}, "critical")
    if critical["type"] != SIGNATURE_TYPE:
        raise ValueError(f"critical.type is {critical['type']!r}, not {SIGNATURE_TYPE!r}")
    image = _exact(critical["image"], {"docker-manifest-digest"}, "critical.image")
    identity = _exact(critical["identity"], {"docker-reference"}, "critical.identity")
    optional = top["optional"]
    if not isinstance(optional, dict):
        raise ValueError("optional is not an object")
    stamp = optional.get("timestamp")
    if stamp is not None and (not isinstance(stamp, int) or isinstance(stamp, bool)):
        raise ValueError("optional.timestamp is not an integer")
    reference = identity["docker-reference"]
    if not isinstance(reference, str):
        raise ValueError("critical.identity.docker-reference is not a string")
    try:
        digest = Digest.parse(image["docker-manifest-digest"], "docker-manifest-digest")
    except InvalidDigest as exc:
        raise ValueError(exc.problem) from None
    return digest, reference


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate member {key!r}")
        out[key] = value
    return out


def _exact(value: Any, members: set[str], what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{what} is not an object")
    if set(value) != members:
        raise ValueError(f"{what} holds {sorted(value)}, expected {sorted(members)}")
    return value


def same_reference(a: str, b: str) -> bool:
    """Whether two docker references name the same image after docker/distribution's
    normalisation (``busybox`` is ``docker.io/library/busybox:latest``): what
    ``--sign-identity`` compares with a payload's docker-reference."""
    return normalize_reference(a) == normalize_reference(b)


def normalize_reference(ref: str) -> str:
    """docker/distribution reference.ParseNormalizedNamed's spelling, plus ``:latest`` when
    neither tag nor digest is given (TagNameOnly). A string that is no reference is kept."""
    name, at, digest = ref.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = ""
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
    first, sep, rest = name.partition("/")
    if not sep or ("." not in first and ":" not in first and first != "localhost"):
        name = f"docker.io/{name}"
        first, _, rest = name.partition("/")
    if first == "docker.io" and "/" not in rest:
        name = f"docker.io/library/{rest}"
    if not tag and not at:
        tag = "latest"
    return name + (f":{tag}" if tag else "") + (f"@{digest}" if at else "")
