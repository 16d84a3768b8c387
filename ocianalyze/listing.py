"""The file listing of one image: choose it, read its layers once, list a layer or the merge."""

from __future__ import annotations

from .entries import EntryTable
from .errors import OciError
from .merge import merged_files
from .model import Image, ManifestKind
from .sources.base import Export
from .tarwalk import TarEntry
from .verify import Options, verify


class Unlistable(OciError):
    """The image's layers could not all be read (the verification says why)."""


def _matches(image: Image, wanted: str) -> bool:
    md = image.manifest_descriptor
    digests = [str(image.config_descriptor.digest)] + ([str(md.digest)] if md else [])
    bare = wanted.split(":", 1)[-1]
    return (
        wanted in image.refs
        or (image.platform is not None and str(image.platform) == wanted)
        or any(
            d == wanted or (len(bare) >= 6 and d.split(":", 1)[1].startswith(bare)) for d in digests
        )
    )


def choose_image(export: Export, wanted: str | None) -> Image:
    """The one platform image ``wanted`` names (a ref, a digest or prefix, or a platform)."""
    images = [i for i in export.model.images if i.kind is ManifestKind.IMAGE]
    if wanted is not None:
        images = [i for i in images if _matches(i, wanted)]
    if len(images) == 1:
        return images[0]
    if not images:
        raise OciError(export.path, f"no image matches {wanted!r}" if wanted else "no image")
    choices = "; ".join(f"{', '.join(i.refs) or '-'} {i.platform or ''}".strip() for i in images)
    raise OciError(export.path, f"several images, choose one with --image: {choices}")


def image_files(export: Export, image: Image, layer: int | None, opts: Options) -> list[TarEntry]:
    """Entries of layer ``layer`` (1 = base), or of the merged filesystem when None."""
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
        return [t.entry(i) for i in range(len(t))]
    return list(merged_files(tables))
