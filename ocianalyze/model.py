"""The one model every export format is read into: frozen records parsed from JSON.

Parsing validates what the OCI image spec requires and turns raw strings into typed values at
the boundary, so nothing downstream handles raw digests or untyped dicts. No I/O here.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from typing import Any

from . import mediatypes as mt
from .configtypes import check_config_types
from .digest import Digest
from .errors import BadManifest, Problem
from .record import record

MAX_METADATA_BYTES = 16 << 20  # manifests, indexes and configs larger than this are refused
# JSON arrays and objects per document: a 16 MiB document of "[]," would become 5.6 million
# lists (over 300 MB of Python objects). An index listing 65,536 manifests with a platform and
# annotations each holds about 200,000.
MAX_JSON_CONTAINERS = 400_000
Annotations = tuple[tuple[str, str], ...]


class ManifestKind(str, enum.Enum):
    IMAGE = "image"
    ATTESTATION = "attestation"
    SIGNATURE = "signature"
    ARTIFACT = "artifact"


@record
class Platform:
    os: str
    architecture: str
    variant: str | None = None
    os_version: str | None = None

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    def to_json(self) -> dict[str, str | None]:
        return {"os": self.os, "architecture": self.architecture, "variant": self.variant}


@record
class Descriptor:
    """An OCI content descriptor (image-spec descriptor.md): what a blob must be.

    ``size`` in bytes. Two facts that some formats add, as data rather than format tests:
    ``digest_is_diff_id``: the blob was named by its diff_id (a layer of a legacy ``docker
    save``, which holds no manifest): stored uncompressed, its sha256 is ``digest``;
    ``compression_declared``: False when no media type was ever written for the blob (legacy
    saves): compression is sniffed, as ``docker load`` does, and no mismatch is reported.
    ``foreign``: for a legacy save's layer that ``LayerSources`` describes, the distribution
    descriptor Docker keeps for it (information only: the stored tar is what is checked).
    """

    media_type: str
    digest: Digest
    size: int
    platform: Platform | None = None
    annotations: Annotations = ()
    urls: tuple[str, ...] = ()
    artifact_type: str | None = None
    digest_is_diff_id: bool = False
    compression_declared: bool = True
    foreign: Descriptor | None = None
    data: bytes | None = None  # the embedded content (``data``, base64), when given
    # The storage name of the blob when the format names blobs by path (a legacy save's
    # layer files): two layers with one diff_id may be two files, each checked.
    location: str | None = None

    def annotation(self, key: str) -> str | None:
        return next((v for k, v in self.annotations if k == key), None)


@record
class Manifest:
    media_type: str | None
    config: Descriptor
    layers: tuple[Descriptor, ...]
    artifact_type: str | None = None
    subject: Descriptor | None = None
    annotations: Annotations = ()


@record
class Index:
    media_type: str | None
    manifests: tuple[Descriptor, ...]
    annotations: Annotations = ()


@record
class History:
    created: str | None
    created_by: str | None
    empty_layer: bool
    comment: str | None = None


@record
class ImageConfig:
    architecture: str
    os: str
    variant: str | None
    created: str | None
    diff_ids: tuple[Digest, ...]
    history: tuple[History, ...] = ()
    cmd: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    docker_version: str | None = None

    @property
    def platform(self) -> Platform | None:
        """None when the config names no os or architecture (as cosign's configs)."""
        if not self.os or not self.architecture:
            return None
        return Platform(self.os, self.architecture, self.variant or None)


@record
class Image:
    """A resolved image: its manifest (absent in a legacy docker save), config and layers."""

    refs: tuple[str, ...]
    kind: ManifestKind
    manifest_descriptor: Descriptor | None
    manifest: Manifest | None
    index_digest: Digest | None
    config_descriptor: Descriptor
    config: ImageConfig | None
    layers: tuple[Descriptor, ...]
    platform: Platform | None = None
    attests: Digest | None = None  # for attestations: the manifest they describe

    @property
    def name(self) -> str:
        if self.refs:
            return self.refs[0]
        digest = self.manifest_descriptor.digest if self.manifest_descriptor else None
        return str(digest or self.config_descriptor.digest)


@record
class IndexRef:
    """A (possibly nested) index in the export, with the names the export gives it."""

    refs: tuple[str, ...]
    descriptor: Descriptor
    index: Index


@record
class Absent:
    """A manifest listed by an index whose blob the export does not hold."""

    refs: tuple[str, ...]
    descriptor: Descriptor
    index_digest: Digest | None


@record
class ExportModel:
    images: tuple[Image, ...]
    indexes: tuple[IndexRef, ...] = ()
    absent: tuple[Absent, ...] = ()
    problems: tuple[Problem, ...] = ()  # found while loading


# --- parsing -------------------------------------------------------------------------------


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def load_json(data: bytes, where: str) -> Any:
    """Parse one JSON document as Go's encoding/json (docker, containerd) would.

    UTF-8 only: a byte-order mark, UTF-16 and the tokens NaN/Infinity are refused (Python's
    json module accepts all three). Invalid UTF-8 inside strings becomes U+FFFD, as in Go.
    Bounded by what the document becomes, not only by its bytes: at most
    MAX_METADATA_BYTES bytes and MAX_JSON_CONTAINERS arrays and objects (counted over the bytes
    before parsing, so brackets inside strings count too: the bound errs on the safe side).
    Raises BadManifest.
    """
    if len(data) > MAX_METADATA_BYTES:
        raise BadManifest(where, f"JSON document too large ({len(data)} bytes)")
    if data.startswith(b"\xef\xbb\xbf"):
        raise BadManifest(where, "invalid JSON: starts with a byte-order mark")
    containers = data.count(b"[") + data.count(b"{")
    if containers > MAX_JSON_CONTAINERS:
        raise BadManifest(
            where, f"JSON document holds over {MAX_JSON_CONTAINERS} arrays and objects"
        )
    try:
        return json.loads(data.decode("utf-8", "replace"), parse_constant=_no_constant)
    except RecursionError:
        raise BadManifest(where, "JSON nested too deeply") from None
    except ValueError as exc:
        raise BadManifest(where, f"invalid JSON: {exc}") from None


def _obj(value: Any, where: str, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise BadManifest(where, f"{what} is not a JSON object")
    return value


def _str(obj: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    value = obj.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise BadManifest(where, f"field {key!r} is missing or not a string")
    return value


def _annotations(obj: Mapping[str, Any], where: str) -> Annotations:
    raw = obj.get("annotations") or {}
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise BadManifest(where, "annotations must map strings to strings")
    return tuple(sorted(raw.items()))


def _str_list(value: Any, where: str, key: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadManifest(where, f"field {key!r} must be a list of strings")
    return tuple(value)


def parse_platform(value: Any, where: str) -> Platform | None:
    """A platform object; None when absent or when ``os`` or ``architecture`` is empty (cosign
    writes "" for both in its attestation configs: that names no platform)."""
    if value is None:
        return None
    obj = _obj(value, where, "platform")
    platform = Platform(
        os=_str(obj, "os", where) or "",
        architecture=_str(obj, "architecture", where) or "",
        variant=_str(obj, "variant", where, required=False) or None,
        os_version=_str(obj, "os.version", where, required=False),
    )
    return platform if platform.os and platform.architecture else None


def parse_descriptor(value: Any, where: str) -> Descriptor:
    obj = _obj(value, where, "descriptor")
    size = obj.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size < 2**63:
        raise BadManifest(where, f"descriptor size must be a non-negative int64, got {size!r}")
    return Descriptor(
        media_type=_str(obj, "mediaType", where) or "",
        digest=Digest.parse(obj.get("digest"), where),
        size=size,
        platform=parse_platform(obj.get("platform"), where),
        annotations=_annotations(obj, where),
        urls=_str_list(obj.get("urls"), where, "urls") or (),
        artifact_type=_str(obj, "artifactType", where, required=False),
        data=_data(obj.get("data"), where),
    )


def _data(value: Any, where: str) -> bytes | None:
    """A descriptor's embedded ``data``: base64 (RFC 4648 section 4), which the content must
    equal (image-spec descriptor.md)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadManifest(where, "field 'data' must be a base64 string")
    import base64  # here: few descriptors embed data, and the import costs start-up time

    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise BadManifest(where, "field 'data' is not valid base64") from None


def _schema2(obj: Mapping[str, Any], where: str) -> None:
    if obj.get("schemaVersion") != 2:
        raise BadManifest(where, f"schemaVersion must be 2, got {obj.get('schemaVersion')!r}")


def parse_index(value: Any, where: str) -> Index:
    obj = _obj(value, where, "index")
    _schema2(obj, where)
    manifests = obj.get("manifests")
    if not isinstance(manifests, list):
        raise BadManifest(where, "index has no 'manifests' list")
    return Index(
        media_type=_str(obj, "mediaType", where, required=False),
        manifests=tuple(parse_descriptor(d, where) for d in manifests),
        annotations=_annotations(obj, where),
    )


def parse_manifest(value: Any, where: str) -> Manifest:
    obj = _obj(value, where, "manifest")
    _schema2(obj, where)
    layers = obj.get("layers")
    if not isinstance(layers, list):
        raise BadManifest(where, "manifest has no 'layers' list")
    subject = obj.get("subject")
    return Manifest(
        media_type=_str(obj, "mediaType", where, required=False),
        config=parse_descriptor(obj.get("config"), where),
        layers=tuple(parse_descriptor(d, where) for d in layers),
        artifact_type=_str(obj, "artifactType", where, required=False),
        subject=parse_descriptor(subject, where) if subject is not None else None,
        annotations=_annotations(obj, where),
    )


def _history(value: Any, where: str) -> tuple[History, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise BadManifest(where, "config history must be a list")
    out = []
    for entry in value:
        e = _obj(entry, where, "history entry")
        out.append(
            History(
                created=_str(e, "created", where, required=False),
                created_by=_str(e, "created_by", where, required=False),
                empty_layer=e.get("empty_layer") is True,
                comment=_str(e, "comment", where, required=False),
            )
        )
    return tuple(out)


def parse_config(value: Any, where: str) -> ImageConfig:
    """The image config; BadManifest when it is malformed, including a field Docker and
    containerd could not unmarshal (configtypes.py)."""
    obj = _obj(value, where, "image config")
    check_config_types(obj, where)
    rootfs = _obj(obj.get("rootfs"), where, "config rootfs")
    if rootfs.get("type") != "layers":
        raise BadManifest(where, f"rootfs.type must be 'layers', got {rootfs.get('type')!r}")
    diff_ids = rootfs.get("diff_ids")
    if not isinstance(diff_ids, list):
        raise BadManifest(where, "config has no rootfs.diff_ids list")
    run = obj.get("config") or {}
    if not isinstance(run, dict):
        raise BadManifest(where, "config 'config' is not an object")
    return ImageConfig(
        architecture=_str(obj, "architecture", where) or "",
        os=_str(obj, "os", where) or "",
        variant=_str(obj, "variant", where, required=False),
        created=_str(obj, "created", where, required=False),
        diff_ids=tuple(Digest.parse(d, where) for d in diff_ids),
        history=_history(obj.get("history"), where),
        cmd=_str_list(run.get("Cmd"), where, "Cmd"),
        entrypoint=_str_list(run.get("Entrypoint"), where, "Entrypoint"),
        docker_version=_str(obj, "docker_version", where, required=False),
    )


SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
DSSE = "application/vnd.dsse.envelope.v1+json"
ATTESTATION_LAYERS = frozenset({mt.IN_TOTO, DSSE})


def classify(manifest: Manifest | None) -> ManifestKind:
    """Tell runnable images from attestations, cosign signatures and other OCI artifacts, from
    the manifest's structure alone: layer media types, config media type, ``artifactType``.

    Never from annotations or ref names (``vnd.docker.reference.type``, a ``sha256-….sig``
    tag): those are unauthenticated labels anyone can add, and the kind only decides how an
    image is shown, never which checks its blobs get. A legacy save (no manifest) is an image.
    """
    if manifest is None:
        return ManifestKind.IMAGE
    layer_types = {layer.media_type for layer in manifest.layers}
    if SIMPLE_SIGNING in layer_types:
        return ManifestKind.SIGNATURE
    if layer_types and layer_types <= ATTESTATION_LAYERS:
        return ManifestKind.ATTESTATION
    if manifest.artifact_type or manifest.config.media_type not in mt.CONFIG_TYPES:
        return ManifestKind.ARTIFACT
    if layer_types and not any(mt.is_layer(t) for t in layer_types):
        return ManifestKind.ARTIFACT
    return ManifestKind.IMAGE
