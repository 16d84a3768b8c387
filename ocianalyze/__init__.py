"""ocianalyze: verify and measure container image exports offline, in one read of each blob."""

from __future__ import annotations

__version__ = "0.1.0"

from .sources import Export, ExportFormat
from .verify import Options, Verification, open_export, verify

__all__ = [
    "Export",
    "ExportFormat",
    "Options",
    "Verification",
    "__version__",
    "open_export",
    "verify",
]
