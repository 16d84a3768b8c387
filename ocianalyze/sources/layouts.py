"""The registry of export layouts: which root files each one claims, and how it loads.

A layout knows which names to read and builds the model; a storage (directory, tar, stream)
knows how to read them. A new format is one class here and one line in LAYOUTS, tried in order
(the first that claims an export's root files loads it).
"""

from __future__ import annotations

from typing import Protocol

from .base import ExportFormat, Storage
from .docker_save import load_docker, read_docker_manifest
from .loader import Loader
from .oci_layout import load_oci
from .skopeo_dir import load_skopeo_dir


class Layout(Protocol):
    def claims(self, names: frozenset[str], archive: bool) -> ExportFormat | None:
        """The format this layout reads an export as, given its root file names; None if not
        this layout's. ``archive``: the export is a tar file or stream, not a directory."""

    def load(self, storage: Storage) -> Loader:
        """Build the model. Raises BadManifest/Unreadable when a root file cannot be used."""


class SkopeoDir:
    """skopeo ``dir:``: ``version`` and ``manifest.json``, no ``index.json`` (a directory)."""

    def claims(self, names: frozenset[str], archive: bool) -> ExportFormat | None:
        wanted = not archive and {"version", "manifest.json"} <= names and "index.json" not in names
        return ExportFormat.DOCKER_DIR if wanted else None

    def load(self, storage: Storage) -> Loader:
        return load_skopeo_dir(storage)


class Docker25:
    """Docker 25+ ``docker save``: an OCI layout plus Docker's ``manifest.json``."""

    def claims(self, names: frozenset[str], archive: bool) -> ExportFormat | None:
        oci = "index.json" in names or "oci-layout" in names
        return ExportFormat.DOCKER_ARCHIVE if oci and "manifest.json" in names else None

    def load(self, storage: Storage) -> Loader:
        return load_oci(storage, read_docker_manifest(storage))


class OciLayout:
    """An OCI image layout, as a directory or a tar (skopeo's ``oci-archive:``)."""

    def claims(self, names: frozenset[str], archive: bool) -> ExportFormat | None:
        if "index.json" not in names and "oci-layout" not in names:
            return None
        return ExportFormat.OCI_ARCHIVE if archive else ExportFormat.OCI_LAYOUT

    def load(self, storage: Storage) -> Loader:
        return load_oci(storage)


class DockerLegacy:
    """A Docker <= 24 ``docker save`` (and skopeo's ``docker-archive:``): ``manifest.json``."""

    def claims(self, names: frozenset[str], archive: bool) -> ExportFormat | None:
        return ExportFormat.DOCKER_ARCHIVE if "manifest.json" in names else None

    def load(self, storage: Storage) -> Loader:
        return load_docker(storage, read_docker_manifest(storage))


LAYOUTS: tuple[Layout, ...] = (SkopeoDir(), Docker25(), OciLayout(), DockerLegacy())
