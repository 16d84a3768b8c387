"""Readers for every export format, behind one small protocol (see base.py)."""

from .base import Export, ExportFormat, Storage
from .detect import open_export

__all__ = ["Export", "ExportFormat", "Storage", "open_export"]
