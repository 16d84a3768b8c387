"""Pinned digests (``--expect``): every pinned digest must name an index or manifest of the
export (for a legacy ``docker save``, which keeps no manifest, its config digest: the image ID).

Interface fixed for the trust orchestrator; the body is being written.
"""

from __future__ import annotations

from ..digest import Digest
from ..errors import Problem
from ..sources import Export


def check(
    export: Export, verified: set[Digest], specs: tuple[str, ...]
) -> tuple[list[Problem], list[str]]:
    """The problems (``digest_not_expected``) and notes for people (``"legacy save: compared
    with the image ID"``) of checking ``specs`` (a digest, a file of ``REF@DIGEST`` lines, or a
    repo-info markdown page) against ``export``.

    Raises ``errors.Unreadable`` when a spec file cannot be read."""
    return [], []
