"""Media-type vocabulary of the OCI image spec and Docker's schema2."""

from __future__ import annotations

import enum


class Compression(str, enum.Enum):
    GZIP = "gzip"
    ZSTD = "zstd"
    NONE = "none"


OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
IN_TOTO = "application/vnd.in-toto+json"

INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
CONFIG_TYPES = frozenset({OCI_CONFIG, DOCKER_CONFIG})

# Layer media types and the compression each one declares.
LAYER_TYPES: dict[str, Compression] = {
    "application/vnd.oci.image.layer.v1.tar": Compression.NONE,
    "application/vnd.oci.image.layer.v1.tar+gzip": Compression.GZIP,
    "application/vnd.oci.image.layer.v1.tar+zstd": Compression.ZSTD,
    "application/vnd.oci.image.layer.nondistributable.v1.tar": Compression.NONE,
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": Compression.GZIP,
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd": Compression.ZSTD,
    "application/vnd.docker.image.rootfs.diff.tar": Compression.NONE,
    "application/vnd.docker.image.rootfs.diff.tar.gzip": Compression.GZIP,
    "application/vnd.docker.image.rootfs.diff.tar.zstd": Compression.ZSTD,
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip": Compression.GZIP,
    "application/vnd.docker.image.rootfs.foreign.diff.tar": Compression.NONE,
}

FOREIGN_LAYER_TYPES = frozenset(t for t in LAYER_TYPES if "nondistributable" in t or "foreign" in t)

# A legacy `docker save` layer has no descriptor; we label it as Docker does when pushing it.
LEGACY_LAYER = "application/vnd.docker.image.rootfs.diff.tar"


def is_layer(media_type: str) -> bool:
    return media_type in LAYER_TYPES


def declared_compression(media_type: str) -> Compression | None:
    return LAYER_TYPES.get(media_type)
