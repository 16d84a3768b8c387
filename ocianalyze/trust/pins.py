"""Pinned digests (``--expect``): every pinned digest must name an index or manifest of the
export (for a legacy ``docker save``, which keeps no manifest, its config digest: the image ID).

A SPEC is one of:

- a digest, ``sha256:<64 hex>`` (any digest of the OCI grammar);
- a file of ``REF@DIGEST`` lines (blank lines and ``#`` comments allowed), as
  ``docker images --digests`` or a lock file lists them;
- a repo-info markdown page, docker-library's or ours (``report --format markdown``): each tag
  section pins the digest its pull line names and the platform manifests it lists (see
  ``repoinfo``). A section passes when the export holds the digest the tag names, or, for a
  copy of some platforms only (``skopeo copy`` without ``--all``), one of its platforms: the
  notes say which platforms the export does not hold.

A pin passes only when the digest is in the export and verified in this run.
"""

from __future__ import annotations

import re

from ..digest import Digest
from ..errors import InvalidDigest, Kind, Problem, Unreadable
from ..record import record
from ..sources import Export
from . import repoinfo

MAX_SPEC = 16 << 20  # bytes: a pin file or page larger than this is refused
_DIGEST_LIKE = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[A-Za-z0-9=_-]+")
_LINE = re.compile(r"(?P<ref>\S+)@(?P<digest>\S+)")


@record
class Pin:
    """One thing a spec pins: ``label`` for people (a ref, a page's tag), ``digests`` of which
    one must be in the export (the first is what the tag names), ``image_ids`` the config
    digests compared instead for a legacy save (the digests themselves when the spec gives
    none: a bare digest may be an image ID)."""

    label: str
    digests: tuple[Digest, ...]
    image_ids: tuple[Digest, ...]
    where: str  # the spec, for messages


def check(
    export: Export, verified: set[Digest], specs: tuple[str, ...]
) -> tuple[list[Problem], list[str]]:
    """The problems (``digest_not_expected``) and notes for people (``"legacy save: compared
    with the image ID"``) of checking ``specs`` (a digest, a file of ``REF@DIGEST`` lines, or a
    repo-info markdown page) against ``export``.

    Raises ``errors.Unreadable`` when a spec file cannot be read (missing, refused, too large,
    a line that is not ``REF@DIGEST``, a page naming no digest); ``errors.InvalidDigest`` when
    a spec that is no file is not a valid digest."""
    pins = [pin for spec in specs for pin in read_spec(spec)]
    images = export.model.images
    legacy = bool(images) and all(img.manifest_descriptor is None for img in images)
    if legacy:
        held = {img.config_descriptor.digest for img in images}
    else:
        held = {img.manifest_descriptor.digest for img in images if img.manifest_descriptor}
        held |= {ref.descriptor.digest for ref in export.model.indexes}
    problems: list[Problem] = []
    notes: list[str] = []
    if legacy and pins:
        notes.append(
            "legacy docker save (no manifest): pinned digests compared with the image IDs "
            "(config digests)"
        )
    for pin in pins:
        problem, note = _one(pin, legacy, held, verified)
        problems += [problem] if problem else []
        notes += [note] if note else []
    return problems, notes


def _one(
    pin: Pin, legacy: bool, held: set[Digest], verified: set[Digest]
) -> tuple[Problem | None, str | None]:
    """Whether one pin holds: the first candidate held, or else any of them (a partial copy).
    ``held``: the export's manifest and index digests, or its image IDs when ``legacy``."""
    candidates = pin.image_ids if legacy else pin.digests
    found = [d for d in candidates if d in held]
    label = f"{pin.label}: " if pin.label else ""
    first = candidates[0] if candidates else pin.digests[0]
    if not found:
        also = (
            f" (nor any of the {len(candidates) - 1} platforms listed)"
            if len(candidates) > 1
            else ""
        )
        what = "an image ID" if legacy else "an index or manifest"
        message = f"{label}pinned {first} is not {what} of the export{also}"
        return Problem(Kind.DIGEST_NOT_EXPECTED, str(first), pin.where, message), None
    unverified = [d for d in found if d not in verified]
    if unverified:
        message = f"{label}pinned {unverified[0]} is in the export but did not verify"
        return Problem(Kind.DIGEST_NOT_EXPECTED, str(unverified[0]), pin.where, message), None
    if found[0] != first:
        missing = len(candidates) - len(found) - 1
        note = (
            f"{pin.where}: {label}the export holds {len(found)} platform manifest(s) the page "
            f"lists, not {first} itself ({missing} listed platform(s) absent)"
        )
        return None, note
    return None, None


def read_spec(spec: str) -> list[Pin]:
    """The pins of one ``--expect`` value (see the module docstring). Raises Unreadable,
    InvalidDigest."""
    if _DIGEST_LIKE.fullmatch(spec) and not _exists(spec):
        digest = Digest.parse(spec, "--expect")
        return [Pin("", (digest,), (digest,), spec)]
    text = _read(spec)
    if repoinfo.looks_like_page(text):
        return _page_pins(spec, text)
    return _line_pins(spec, text)


def _exists(path: str) -> bool:
    try:
        with open(path, "rb"):
            return True
    except OSError:
        return False


def _read(spec: str) -> str:
    from .files import read_given

    return read_given(spec, MAX_SPEC, "a list of digests").decode("utf-8", "replace")


def _page_pins(spec: str, text: str) -> list[Pin]:
    pins = []
    for section in repoinfo.sections(text):
        digests = tuple(d for d in (section.head, *section.platforms) if d is not None)
        ids = tuple(section.image_ids)
        if not digests:  # a "local" page: only the image ID
            digests = ids
        pins.append(Pin(section.title, digests, ids or digests, spec))
    if not pins:
        raise Unreadable(spec, "a repo-info page that names no digest")
    return pins


def _line_pins(spec: str, text: str) -> list[Pin]:
    pins = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _LINE.fullmatch(line)
        if m is None and not _DIGEST_LIKE.fullmatch(line):
            raise Unreadable(spec, f"line {n}: not REF@DIGEST, a digest or a repo-info page")
        try:
            digest = Digest.parse(m.group("digest") if m else line)
        except InvalidDigest as exc:
            raise Unreadable(spec, f"line {n}: {exc.problem}") from None
        pins.append(Pin(m.group("ref") if m else "", (digest,), (digest,), spec))
    if not pins:
        raise Unreadable(spec, "holds no REF@DIGEST line")
    return pins
