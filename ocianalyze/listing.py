"""The file listing of one image: choose it, read its layers once, list a layer or the merge."""

from __future__ import annotations

from collections.abc import Iterator

from .entries import EntryTable
from .errors import OciError
from .merge import merged_files
from .model import Image, ManifestKind
from .sources.base import Export
from .tarwalk import TarEntry
from .verify import Options, verify


class Unlistable(OciError):
    """The image's layers could not all be read (the verification says why)."""


def _digests(image: Image) -> list[str]:
    """The digests that name ``image``: its manifest's (when it has one), then its config's."""
    md = image.manifest_descriptor
    return ([str(md.digest)] if md else []) + [str(image.config_descriptor.digest)]


def _matches(image: Image, wanted: str) -> bool:
    bare = wanted.split(":", 1)[-1]
    return (
        wanted in image.refs
        or (image.platform is not None and str(image.platform) == wanted)
        or any(
            d == wanted or (len(bare) >= 6 and d.split(":", 1)[1].startswith(bare))
            for d in _digests(image)
        )
    )


def _hint(image: Image) -> str:
    """How the error names a candidate: a digest prefix that ``--image`` takes back (12 hex
    digits, as docker shortens IDs), then its names and platform (the CLI escapes them)."""
    prefix = _digests(image)[0].split(":", 1)[-1][:12]
    about = " ".join(filter(None, (", ".join(image.refs), str(image.platform or ""))))
    return f"{prefix} ({about})" if about else prefix


def choose_image(export: Export, wanted: str | None) -> Image:
    """The one platform image ``wanted`` names (a ref, a digest or a prefix of 6+ hex digits,
    or a platform). Raises OciError when none or several match; the message lists each
    candidate by a 12-digit digest prefix that selects it. Images that are the same manifest
    (one manifest under several refs) are one choice."""
    images = [i for i in export.model.images if i.kind is ManifestKind.IMAGE]
    if wanted is not None:
        images = [i for i in images if _matches(i, wanted)]
    if images and len({_digests(i)[0] for i in images}) == 1:
        return images[0]
    if not images:
        what = f"no image matches {wanted!r}" if wanted else "no image"
        raise OciError(export.path, what)
    choices = "; ".join(dict.fromkeys(map(_hint, images)))
    raise OciError(export.path, f"several images, choose one with --image: {choices}")


def image_files(
    export: Export, image: Image, layer: int | None, opts: Options
) -> Iterator[TarEntry]:
    """Entries of layer ``layer`` (1 = base) in tar order, or of the merged filesystem when
    None (see merge.merged_files). The layers are read (and verified) before this returns;
    the entries are then produced one at a time, so a listing can be written as it goes.
    Raises OciError for a layer number out of range, Unlistable when a layer cannot be read."""
    if layer is not None and not 1 <= layer <= len(image.layers):
        raise OciError(export.path, f"--layer {layer}: the image has {len(image.layers)} layers")
    wanted = image.layers if layer is None else (image.layers[layer - 1],)
    v = verify(export, opts, images=(image,))
    tables: list[EntryTable] = []
    for d in wanted:
        scan = v.scans.get(d.digest)
        if scan is None or scan.entries is None:
            why = next((p.line() for p in v.problems if p.digest == str(d.digest)), "not read")
            raise Unlistable(export.path, f"layer {d.digest} cannot be listed: {why}")
        tables.append(scan.entries)
    if layer is not None:
        t = tables[0]
        return map(t.entry, range(len(t)))
    return merged_files(tables)
