"""`docker save`'s manifest.json: the legacy layout, and the half of a Docker 25+ save that
``docker load`` reads.

manifest.json is an array of ``{Config, RepoTags, Layers, LayerSources?}`` (Docker image spec
v1.2, moby's image/tarexport). A legacy save holds no manifest: each image is its config and
its layer files, named by path; a layer's digest is the config's diff_id, which the stored
(uncompressed) tar must hash to. A Docker 25+ save is also an OCI layout; an image that only
manifest.json names (moby/moby#51389) is built from manifest.json and still verified.
"""

from __future__ import annotations

import re
from typing import Any

from .. import mediatypes as mt
from ..digest import Digest
from ..errors import BadManifest, Kind, OciError, Unreadable
from ..model import (
    Descriptor,
    Image,
    ImageConfig,
    classify,
    load_json,
    parse_config,
    parse_descriptor,
)
from .base import Storage, read_small
from .loader import Loader

_NAMED = re.compile(r"(?:blobs/sha256/)?([a-f0-9]{64})(?:\.json|\.tar)?")


def read_docker_manifest(storage: Storage) -> list[dict[str, Any]]:
    """manifest.json, type-checked. Raises BadManifest (the export cannot be read)."""
    where = f"{storage.where}: manifest.json"
    data = read_small(storage, "manifest.json")
    if data is None:
        raise BadManifest(storage.where, "manifest.json is absent")
    entries = load_json(data, where)
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise BadManifest(where, "expected a JSON array of objects")
    for e in entries:
        if (
            not isinstance(e.get("Config"), str)
            or not isinstance(e.get("Layers"), list)
            or not all(isinstance(x, str) for x in e["Layers"])
        ):
            raise BadManifest(where, "an entry lacks a Config string or a Layers list")
        tags = e.get("RepoTags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise BadManifest(where, "RepoTags must be a list of strings")
        sources = e.get("LayerSources") or {}
        if not isinstance(sources, dict) or not all(isinstance(v, dict) for v in sources.values()):
            raise BadManifest(where, "LayerSources must map diff_ids to descriptors")
    return entries


def _named_digest(path: str) -> Digest | None:
    """The sha256 a file name carries (``blobs/sha256/<hex>``, ``<hex>.json``, ``<hex>.tar``)."""
    m = _NAMED.fullmatch(path.removeprefix("./"))
    return Digest("sha256", m.group(1)) if m else None


def config_digest(entry: dict[str, Any]) -> Digest | None:
    return _named_digest(entry["Config"])


def repo_tags(entry: dict[str, Any]) -> tuple[str, ...]:
    return tuple(entry.get("RepoTags") or [])


def load_docker(storage: Storage, entries: list[dict[str, Any]]) -> Loader:
    """A legacy docker save: no manifests, only configs and layer files named by path."""
    loader = Loader(storage, lambda d: d.blob_path)
    for e in entries:
        docker_image(loader, e)
    return loader


def docker_image(loader: Loader, entry: dict[str, Any]) -> None:
    """Add the image one manifest.json entry describes (config read, layers by path)."""
    storage = loader.storage
    name = entry["Config"]
    refs = repo_tags(entry)
    named = _named_digest(name)
    where = refs[0] if refs else name
    size = loader.size(name)
    if size is None:
        loader.problem(
            Kind.MISSING_BLOB, named, where, f"config {name} named by manifest.json is absent"
        )
        return
    digest = named
    config: ImageConfig | None = None
    try:
        data = read_small(storage, name)
    except OciError as exc:
        kind = Kind.UNREADABLE_BLOB if isinstance(exc, Unreadable) else Kind.BAD_METADATA
        loader.problem(kind, named, where, exc.problem)
        return
    if data is None:
        return
    if digest is None:  # a config named otherwise: it is what it is
        digest = Digest.of(data)
    desc = Descriptor(mt.DOCKER_CONFIG, digest, len(data))
    loader.locations[digest] = name
    value = loader.parse_read(desc, data, where)
    if value is not False:
        try:
            config = parse_config(value, f"{storage.where}: {name}")
        except OciError as exc:
            loader.problem(Kind.BAD_METADATA, digest, where, exc.problem)
    layers = _layers(loader, entry, config)
    loader.images.append(
        Image(
            refs,
            classify(None),
            None,
            None,
            None,
            desc,
            config,
            layers,
            config.platform if config else None,
        )
    )


def _layers(
    loader: Loader, entry: dict[str, Any], config: ImageConfig | None
) -> tuple[Descriptor, ...]:
    """One descriptor per layer file. A file named by a digest (``blobs/sha256/<hex>``, as
    Docker 25+ writes) is that blob; any other (``<id>/layer.tar``) is named by the config's
    diff_id, which its stored bytes must hash to when uncompressed. ``docker load`` sniffs a
    layer file's compression, so none is declared."""
    diff_ids = config.diff_ids if config else ()
    sources = entry.get("LayerSources") or {}
    where = f"{loader.storage.where}: manifest.json"
    paths = entry["Layers"]
    if config is not None and len(paths) != len(diff_ids):
        # The layers past the config's diff_ids have no name to check them by: the count is
        # the problem (`docker load` refuses it: "layers length mismatch").
        loader.problem(
            Kind.DIFF_ID_COUNT,
            config_digest(entry),
            repo_tags(entry)[0] if repo_tags(entry) else entry["Config"],
            f"manifest.json lists {len(paths)} layers but the config {len(diff_ids)} diff_ids",
        )
    out = []
    for i, path in enumerate(paths):
        named = _named_digest(path) if path.startswith(("blobs/", "./blobs/")) else None
        diff_id = diff_ids[i] if i < len(diff_ids) else None
        digest = named or diff_id
        if digest is None:
            continue  # reported above: the diff_id count
        foreign = None
        if diff_id is not None and str(diff_id) in sources:
            try:
                foreign = parse_descriptor(sources[str(diff_id)], where)
            except OciError as exc:
                loader.problem(Kind.BAD_METADATA, diff_id, where, f"LayerSources: {exc.problem}")
        size = loader.size(path)
        desc = Descriptor(
            mt.LEGACY_LAYER,
            digest,
            size if size is not None and size >= 0 else (foreign.size if foreign else 0),
            digest_is_diff_id=named is None,
            compression_declared=False,
            foreign=foreign,
            location=path,
        )
        loader.locations.setdefault(desc.digest, path)
        out.append(desc)
    return tuple(out)


def add_unlisted(loader: Loader, entries: list[dict[str, Any]]) -> None:
    """Docker 25+: give index.json's images their RepoTags, and build each image that only
    manifest.json names; report every disagreement between the two lists."""
    by_config: dict[Digest, list[int]] = {}
    for i, image in enumerate(loader.images):
        by_config.setdefault(image.config_descriptor.digest, []).append(i)
    listed: set[Digest] = set()
    for entry in entries:
        digest = config_digest(entry)
        if digest is not None and digest in by_config:
            listed.add(digest)
            for i in by_config[digest]:
                image = loader.images[i]
                more = tuple(r for r in repo_tags(entry) if r not in image.refs)
                if more:
                    loader.images[i] = _with_refs(image, more)
            if any(_same_layers(loader.images[i], entry) for i in by_config[digest]):
                continue
            # `docker load` without the containerd store reads manifest.json's layers: those
            # are verified as an image of their own, and the difference is reported.
            image = loader.images[by_config[digest][0]]
            docker_image(loader, entry)
            loader.problem(
                Kind.INDEX_DISAGREEMENT,
                digest,
                image.name,
                f"manifest.json lists other layers for the image with config {entry['Config']} "
                "than its OCI manifest",
            )
            continue
        before = len(loader.images)
        docker_image(loader, entry)
        where = repo_tags(entry)[0] if repo_tags(entry) else entry["Config"]
        loader.problem(
            Kind.INDEX_DISAGREEMENT,
            digest,
            where,
            f"manifest.json lists the image with config {entry['Config']}, index.json does not"
            + ("" if len(loader.images) > before else " (and it cannot be read)"),
        )
    for image in loader.images:
        digest = image.config_descriptor.digest
        # manifest.json names one platform of a multi-platform index (and the containerd
        # store saves only some platforms' blobs): only a manifest that index.json lists
        # directly, with all its blobs, is expected in manifest.json.
        if image.index_digest is not None:
            continue
        complete = image.config is not None and all(
            loader.size(loader.locate(d.digest)) is not None for d in image.layers
        )
        if (
            image.manifest is not None
            and image.kind.value == "image"
            and complete
            and digest not in listed
        ):
            loader.problem(
                Kind.INDEX_DISAGREEMENT,
                image.manifest_descriptor.digest if image.manifest_descriptor else digest,
                image.name,
                "index.json lists this image, manifest.json does not",
            )


def _same_layers(image: Image, entry: dict[str, Any]) -> bool:
    """True when manifest.json's layer files are the OCI manifest's layer blobs, in order."""
    named = [_named_digest(p) for p in entry["Layers"]]
    return named == [d.digest for d in image.layers]


def _with_refs(image: Image, more: tuple[str, ...]) -> Image:
    from ..record import replace

    return replace(image, refs=image.refs + more)
