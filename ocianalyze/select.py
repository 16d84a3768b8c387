"""Choosing one image of an export by name, digest or platform (for `files`)."""

from __future__ import annotations

from .errors import OciError
from .model import Image, ManifestKind
from .sources.base import Export


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
    images = [i for i in export.model.images if i.kind is ManifestKind.IMAGE]
    if wanted is not None:
        images = [i for i in images if _matches(i, wanted)]
    if len(images) == 1:
        return images[0]
    if not images:
        raise OciError(export.path, f"no image matches {wanted!r}" if wanted else "no image")
    choices = "; ".join(f"{', '.join(i.refs) or '-'} {i.platform or ''}".strip() for i in images)
    raise OciError(export.path, f"several images, choose one with --image: {choices}")
