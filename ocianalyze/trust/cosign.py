"""cosign "attached" signatures and attestations, as ``cosign save`` and ``cosign copy`` keep
them: a manifest tagged ``sha256-<hex>.sig`` whose layers are simple-signing payloads with the
signature in the ``dev.cosignproject.cosign/signature`` annotation, and a manifest tagged
``sha256-<hex>.att`` whose layers are DSSE envelopes holding in-toto statements.

Sources: cosign specs/SIGNATURE_SPEC.md (payload ``critical.image.docker-manifest-digest``,
``critical.identity.docker-reference``; annotations ``dev.sigstore.cosign/certificate``,
``/chain``, ``/bundle``), specs/ATTESTATION_SPEC.md (DSSE layers, PAE signatures).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..checks import location
from ..errors import OciError
from ..model import DSSE, SIMPLE_SIGNING, Descriptor, Image
from ..record import replace
from ..sources import Export
from ..sources.base import read_small
from . import SignatureFormat
from .envelope import Malformed, b64, loads, parse_envelope, parse_statement
from .material import Context, Found, Material, check, malformed, sha256_hex

SIGNATURE = "dev.cosignproject.cosign/signature"
CERTIFICATE = "dev.sigstore.cosign/certificate"
CHAIN = "dev.sigstore.cosign/chain"
REKOR_BUNDLE = "dev.sigstore.cosign/bundle"
_TAG = re.compile(r"sha256-([0-9a-f]{64})\.(sig|att)$")


# ``cosign save`` names nothing: index.json marks each manifest with a "kind" annotation, one
# image (or image index) and its signatures and attestations (cosign pkg/oci/layout).
_KIND = "kind"
_SAVED_SUBJECT = frozenset(
    {"dev.cosignproject.cosign/image", "dev.cosignproject.cosign/imageIndex"}
)
_SAVED_SIGNATURES = frozenset({"dev.cosignproject.cosign/sigs", "dev.cosignproject.cosign/atts"})


def attached_to(image: Image, saved: str | None = None) -> str | None:
    """The digest a ``sha256-<hex>.sig``/``.att`` name says the manifest is attached to, or,
    in a ``cosign save`` layout, the one image it saved (``saved``)."""
    for ref in image.refs:
        found = _TAG.search(ref)
        if found:
            return "sha256:" + found.group(1)
    desc = image.manifest_descriptor
    if saved is not None and desc is not None and desc.annotation(_KIND) in _SAVED_SIGNATURES:
        return saved
    return None


def saved_subject(export: Export) -> str | None:
    """The image or index a ``cosign save`` layout saved, when it marks exactly one."""
    marked = {
        str(d.digest)
        for d in [
            *(i.manifest_descriptor for i in export.model.images if i.manifest_descriptor),
            *(r.descriptor for r in export.model.indexes),
        ]
        if d.annotation(_KIND) in _SAVED_SUBJECT
    }
    return marked.pop() if len(marked) == 1 else None


def read_blob(export: Export, desc: Descriptor) -> bytes | None:
    """A small blob's bytes (signature payloads, envelopes, bundles: JSON, kept by a one-pass
    stream too), or None when it cannot be read (``verify`` reports why)."""
    try:
        return read_small(export.storage, location(export, desc))
    except OciError:
        return None


def find(export: Export, ctx: Context) -> Iterator[Found]:
    """Every cosign signature and attestation layer of the export, checked."""
    saved = saved_subject(export)
    for image in export.model.images:
        if image.manifest is None:
            continue
        attached = attached_to(image, saved)
        for i, layer in enumerate(image.manifest.layers):
            source = f"{image.name} layer {i + 1} ({layer.digest})"
            if layer.media_type == SIMPLE_SIGNING:
                yield replace(_signature(export, attached, layer, source, ctx), carrier=image)
            elif layer.media_type == DSSE:
                yield replace(_attestation(export, attached, layer, source, ctx), carrier=image)


def _rekor(layer: Descriptor) -> dict[str, Any] | None:
    raw = layer.annotation(REKOR_BUNDLE)
    if not raw:
        return None
    try:
        value = loads(raw)
    except ValueError:
        return {"malformed": raw}  # fails the Rekor check with its reason
    return value if isinstance(value, dict) else {"malformed": raw}


def _material(
    layer: Descriptor, signed: bytes, signatures: tuple[bytes, ...], payload: bytes
) -> Material:
    """What a cosign layer asks to check: ``signatures`` over ``signed`` (the payload, or the
    DSSE pre-authentication encoding of it), with the certificate, chain and Rekor bundle its
    annotations carry (cosign's SIGNATURE_SPEC)."""
    return Material(
        signed,
        signatures,
        sha256_hex(payload),
        layer.annotation(CERTIFICATE),
        layer.annotation(CHAIN),
        _rekor(layer),
    )


def _signature(
    export: Export, attached: str | None, layer: Descriptor, source: str, ctx: Context
) -> Found:
    fmt = SignatureFormat.COSIGN
    payload = read_blob(export, layer)
    if payload is None:
        return malformed(fmt, "the payload cannot be read", source, attached)
    try:
        critical = loads(payload)["critical"]
        digest = critical["image"]["docker-manifest-digest"]
        reference = critical.get("identity", {}).get("docker-reference")
        signature = b64(layer.annotation(SIGNATURE), "the signature annotation")
    except (ValueError, KeyError, TypeError, AttributeError, Malformed) as exc:
        return malformed(fmt, f"not a simple-signing payload ({exc})", source, attached)
    if not isinstance(digest, str):
        return malformed(fmt, "docker-manifest-digest is not a string", source, attached)
    material = _material(layer, payload, (signature,), payload)
    ref = reference if isinstance(reference, str) else None
    return Found(fmt, check(material, ctx), source, attached, (digest,), None, ref)


def _attestation(
    export: Export, attached: str | None, layer: Descriptor, source: str, ctx: Context
) -> Found:
    fmt = SignatureFormat.COSIGN_ATTESTATION
    data = read_blob(export, layer)
    if data is None:
        return malformed(fmt, "the envelope cannot be read", source, attached)
    try:
        envelope = parse_envelope(loads(data))
        statement = parse_statement(envelope.payload)
    except (ValueError, Malformed) as exc:
        return malformed(fmt, str(exc), source, attached)
    material = _material(layer, envelope.pae(), envelope.signatures, envelope.payload)
    checked = check(material, ctx)
    return Found(fmt, checked, source, attached, statement.subjects, statement.predicate_type)
