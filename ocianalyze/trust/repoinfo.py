"""The digests a repo-info markdown page pins: docker-library's (github.com/docker-library/
repo-info, ``repos/*/remote/*.md`` and ``repos/*/local/*.md``) and ours (``ocianalyze report
--format markdown``, which follows the same layout).

A page is a list of sections, one per tag (a ``#`` or ``##`` heading): the tag's own
``$ docker pull NAME@DIGEST`` line names what the tag points at (an index, or the one
manifest); each platform (a ``###`` heading) has its own pull line naming its manifest, and an
``Image ID`` line (the config digest; a ``local`` page has only that). Pure: no I/O.
"""

from __future__ import annotations

import re

from ..digest import Digest
from ..errors import InvalidDigest
from ..record import field, record

_HEADING = re.compile(r"(#{1,3}) +(.*?)\s*$")
_PULL = re.compile(r"^\$ docker pull \S+@(?P<digest>[a-z0-9]+:[0-9a-fA-F]{32,})\s*$")
_IMAGE_ID = re.compile(r"^\s*-\s+Image ID:\s*`(?P<digest>[a-z0-9]+:[0-9a-fA-F]{32,})`")


@record(frozen=False)
class Section:
    """One tag of a page: ``title`` as written, ``head`` the digest the tag's pull line names
    (None when the page gives none), ``platforms`` the platform manifests' digests, and
    ``image_ids`` the config digests it lists."""

    title: str
    head: Digest | None = None
    platforms: list[Digest] = field(default_factory=list)
    image_ids: list[Digest] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.head is None and not self.platforms and not self.image_ids


def looks_like_page(text: str) -> bool:
    """Whether ``text`` reads as a repo-info page rather than ``REF@DIGEST`` lines: it has a
    pull line or an Image ID line (a ``#`` comment alone is not enough)."""
    return any(_PULL.match(line) or _IMAGE_ID.match(line) for line in text.splitlines())


def sections(text: str) -> list[Section]:
    """The page's tag sections that pin at least one digest, in page order. A digest that
    does not follow the OCI grammar is skipped (the page is untrusted text)."""
    out: list[Section] = []
    current: Section | None = None
    in_platform = False
    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading:
            level, title = len(heading.group(1)), heading.group(2)
            if level < 3 or current is None:
                current = Section(title.strip("`"))
                out.append(current)
            in_platform = level == 3
            continue
        digest = _digest(_PULL.match(line) or _IMAGE_ID.match(line))
        if digest is None:
            continue
        if current is None:  # a page without headings: one anonymous section
            current = Section("")
            out.append(current)
        if _IMAGE_ID.match(line):
            current.image_ids.append(digest)
        elif in_platform:
            current.platforms.append(digest)
        elif current.head is None:
            current.head = digest
        else:
            current.platforms.append(digest)
    return [s for s in out if not s.empty]


def _digest(match: re.Match[str] | None) -> Digest | None:
    if match is None:
        return None
    try:
        return Digest.parse(match.group("digest"))
    except InvalidDigest:
        return None
