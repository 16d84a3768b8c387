"""Containers "simple signing": OpenPGP signatures of a JSON payload naming a manifest digest,
as ``skopeo copy --sign-by`` writes them into a ``dir:`` export (``signature-1``, ...).

Interface fixed for the trust orchestrator; the body is being written.
"""

from __future__ import annotations

from ..digest import Digest
from ..sources import Export
from . import Evidence, Trust


def check(export: Export, verified: set[Digest], trust: Trust) -> list[Evidence]:
    """One ``Evidence`` per simple-signing signature the export carries (none for formats that
    keep no ``signature-N`` file), checked against the OpenPGP keys among ``trust.keys``.

    ``verified``: the blobs (manifests included) verified in this run."""
    return []
