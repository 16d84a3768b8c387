"""Renderers: pure functions from a ``Report`` to text. No printing, no clock, no I/O.

One table per command maps each of its output formats to a renderer; each renderer module is
imported only when its format is asked for (start-up time: markdown alone pulls in the email
and datetime modules).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..analysis import Report

Renderer = Callable[["Report"], str]


class Format(str, enum.Enum):
    """The formats of `inspect`, `verify`, `footprint` and `files`."""

    TEXT = "text"
    JSON = "json"


class VerifyFormat(str, enum.Enum):
    """The formats of `verify`: SARIF for code scanning, JUnit for CI test reports."""

    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"
    JUNIT = "junit"


class DiffFormat(str, enum.Enum):
    """The formats of `diff` (report.diff.RENDERERS)."""

    TEXT = "text"
    JSON = "json"
    MARKDOWN = "markdown"


class ReportFormat(str, enum.Enum):
    """The formats of `report`."""

    TEXT = "text"
    JSON = "json"
    MARKDOWN = "markdown"
    SARIF = "sarif"
    JUNIT = "junit"
    HTML = "html"


def _inspect_text(r: Report) -> str:
    from .text import inspect_text

    return inspect_text(r)


def _verify_text(r: Report) -> str:
    from .text import verify_text

    return verify_text(r)


def _report_text(r: Report) -> str:
    from .text import report_text

    return report_text(r)


def _json(r: Report) -> str:
    from .json import report_json

    return report_json(r)


def _markdown(r: Report) -> str:
    from .markdown import render

    return render(r)


def _sarif(r: Report) -> str:
    from .sarif import render

    return render(r)


def _junit(r: Report) -> str:
    from .junit import render

    return render(r)


def _html(r: Report) -> str:
    from .html import render

    return render(r)


INSPECT: dict[Format, Renderer] = {Format.TEXT: _inspect_text, Format.JSON: _json}
VERIFY: dict[VerifyFormat, Renderer] = {
    VerifyFormat.TEXT: _verify_text,
    VerifyFormat.JSON: _json,
    VerifyFormat.SARIF: _sarif,
    VerifyFormat.JUNIT: _junit,
}
REPORT: dict[ReportFormat, Renderer] = {
    ReportFormat.TEXT: _report_text,
    ReportFormat.JSON: _json,
    ReportFormat.MARKDOWN: _markdown,
    ReportFormat.SARIF: _sarif,
    ReportFormat.JUNIT: _junit,
    ReportFormat.HTML: _html,
}
