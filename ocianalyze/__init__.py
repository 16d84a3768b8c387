"""ocianalyze: verify and measure container image exports offline, in one read of each blob.

Importing the package loads nothing else: the public names below are resolved on first use
(PEP 562 module ``__getattr__``), so ``ocianalyze --version`` and the command line's own
start-up pay only for the modules a command needs.
"""

from __future__ import annotations

import sys

__version__ = "0.1.0"

TYPE_CHECKING = False  # typing itself costs 10 ms of start-up; mypy knows this name
if TYPE_CHECKING:
    from typing import Any

    from .sources import Export, ExportFormat
    from .verify import Options, Verification, open_export, verify

# Public name -> the submodule that defines it.
_LAZY = {
    "Export": "sources",
    "ExportFormat": "sources",
    "Options": "verify",
    "Verification": "verify",
    "open_export": "verify",
    "verify": "verify",
}

__all__ = [
    "Export",
    "ExportFormat",
    "Options",
    "Verification",
    "__version__",
    "open_export",
    "verify",
]


def __getattr__(name: str) -> Any:
    """Resolve a public name on first use; raises AttributeError for any other name."""
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{where}"), name)


class _Package(type(sys)):  # type: ignore[misc]
    """The package's module type: ``ocianalyze.verify`` stays the function, as it was when
    it was imported eagerly, even once the submodule of the same name has been imported (the
    import system then sets the submodule as an attribute of its package)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _LAZY and isinstance(value, type(sys)):
            return  # the submodule stays reachable in sys.modules
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
