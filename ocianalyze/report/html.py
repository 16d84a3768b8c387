"""`report --format html`: one self-contained page (no network, no script, no external font).

The page is a Jinja2 template (``templates/report.html.j2``) and its chart a pygal SVG inlined
in it. Both are imported only for this format (the ``html`` extra). Everything an export names
is untrusted: Jinja's ``finalize`` hook runs ``printable`` on every value the template prints
(so no control character reaches the page, as in the other renderers) and autoescape then
HTML-escapes it; the chart's labels are escaped the same way before pygal's XML writer escapes
them again. A Content-Security-Policy in the page forbids every script and every fetch, so
even a string that slipped through could neither run nor call out.

Pure: no I/O but reading the package's own template, no clock (pygal's generation date and
random chart id are replaced), so one report always gives the same bytes.
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..analysis import ImageAnalysis, Report
from ..digest import Digest
from ..errors import OciError
from ..footprint import Footprint, footprint
from ..model import ExportModel, Image, ManifestKind
from ..record import record
from .escape import printable
from .units import human

if TYPE_CHECKING:
    import jinja2
    import markupsafe

# Chart colours: bytes shared with another image, then bytes one platform alone uses.
SHARED_COLOUR = "#4c78a8"
UNIQUE_COLOUR = "#f58518"
CHART_ID = "footprint"  # fixed, in place of pygal's random uuid: same report, same page

# The chart's look, matched to the page's stylesheet (pygal.style.Style fields).
_STYLE: dict[str, object] = {
    "background": "transparent",
    "plot_background": "transparent",
    "font_family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    "colors": (SHARED_COLOUR, UNIQUE_COLOUR),
    "value_colors": ("#ffffff", "#1d2733"),  # values printed on the bars: legible on each
    "foreground": "#1d2733",
    "foreground_subtle": "#637083",
    "label_font_size": 13,
    "major_label_font_size": 13,
    "legend_font_size": 13,
    "value_font_size": 12,
    "tooltip_font_size": 12,
    "guide_stroke_color": "#d0d5dd",
    "major_guide_stroke_color": "#d0d5dd",
    "guide_stroke_dasharray": "2,3",
    "major_guide_stroke_dasharray": "2,3",
    "opacity": "1",
    "opacity_hover": ".85",
    "stroke_width": "0",
}


class MissingExtra(OciError):
    """The page's libraries (the ``html`` extra) are not installed: one line, exit 2, as for a
    command line that cannot be served, rather than an internal error."""


def require_extra() -> None:
    """Raises MissingExtra when Jinja2 or pygal is not installed (checked before a run, so a
    long verification is not lost to a missing library)."""
    try:
        import jinja2  # noqa: F401
        import pygal  # noqa: F401
    except ImportError as exc:
        raise MissingExtra(
            "report --format html",
            f"needs the html extra, pip install 'ocianalyze[html]' ({exc})",
        ) from None


@record
class SharedUse:
    """One distinct layer of the export's images (by diff_id, as footprint counts them) and
    the images that use it (their ``image_label``). Sizes in bytes; ``disk_bytes``
    is None when the layer was not read."""

    digest: Digest  # the blob as the first image using it stores it
    diff_id: Digest
    size: int
    disk_bytes: int | None
    images: tuple[str, ...]


@record
class _Export:
    model: ExportModel


@record
class _Scanned:
    """The two attributes ``footprint()`` reads of a verification, rebuilt from a ``Report``
    (a renderer sees the report only): the export's model and every layer's scan."""

    export: _Export
    scans: Mapping[Digest, object]  # walker.BlobScan (the renderers never import the walker)


def export_footprint(r: Report) -> Footprint:
    """The `footprint` command's figures for this one export, from the report alone."""
    scans = {f.descriptor.digest: f.scan for a in r.images for f in a.layers if f.scan}
    scanned: Any = _Scanned(_Export(r.model), scans)
    return footprint([scanned])


def image_label(image: Image) -> str:
    """An image's name and platform (exports often give every platform one name), as the
    export gives them: the template escapes what it prints."""
    platform = f" · {image.platform}" if image.platform else ""
    return f"{image.name}{platform}"


def sharing(images: tuple[ImageAnalysis, ...]) -> list[SharedUse]:
    """Every distinct layer of the runnable images, most used first, then largest on disk.

    Attestations, signatures and artifacts are left out, as `footprint` leaves them out."""
    users: dict[Digest, list[str]] = {}
    first: dict[Digest, SharedUse] = {}
    for a in images:
        if a.image.kind is not ManifestKind.IMAGE:
            continue
        label = image_label(a.image)
        for f in a.layers:
            key = f.diff_id or f.descriptor.digest
            tar = f.scan.tar if f.scan else None
            disk = tar.disk_bytes if tar else None
            first.setdefault(key, SharedUse(f.descriptor.digest, key, f.descriptor.size, disk, ()))
            if label not in users.setdefault(key, []):
                users[key].append(label)
    rows = [
        SharedUse(s.digest, s.diff_id, s.size, s.disk_bytes, tuple(users[k]))
        for k, s in first.items()
    ]
    return sorted(rows, key=lambda s: (-len(s.images), -(s.disk_bytes or 0), str(s.diff_id)))


def _strip_scripts_and_comments(root: ET.Element) -> ET.Element:
    """pygal writes a config <script> (dead without its external tooltips script, and refused
    by the page's policy), a comment carrying today's date, "Pygal" as the chart's title and
    a title "0.0 B" on each platform label (both shown as tooltips): drop them all, then name
    the chart."""
    for parent in root.iter():
        for child in list(parent):
            tag: object = child.tag  # a name, or the Comment factory for a comment
            if tag is ET.Comment or str(tag).rsplit("}", 1)[-1] in ("script", "title"):
                parent.remove(child)
    title = ET.Element("title")
    title.text = "On-disk bytes per platform: shared with other images, and unique"
    root.insert(0, title)
    return root


def footprint_chart(fp: Footprint) -> markupsafe.Markup:
    """A horizontal stacked bar per platform: on-disk bytes shared with another image, then
    bytes only this platform uses. Each part some platform has draws one bar per platform (a
    zero-width one where that platform has none); a part no platform has draws nothing."""
    import markupsafe
    import pygal
    from pygal.style import Style

    chart = pygal.HorizontalStackedBar(
        style=Style(**_STYLE),
        js=(),  # the default fetches a tooltip script from the network
        width=900,
        height=110 + 56 * len(fp.platforms),
        print_values=True,
        value_formatter=lambda n: human(int(n)) if n else "",
        legend_at_bottom=True,
        legend_at_bottom_columns=2,
        margin=8,
        spacing=12,
        show_y_guides=False,
        truncate_label=40,  # the table below gives names in full
        title=None,
    )
    chart.uuid = CHART_ID
    chart.add_xml_filter(_strip_scripts_and_comments)
    # pygal draws the first label at the bottom: reversed, the bars read top down as the table.
    rows = fp.platforms[::-1]
    chart.x_labels = [printable(p.platform) for p in rows]
    for title, values in (
        ("shared with other images", [p.shared_disk_bytes for p in rows]),
        ("used by this platform only", [p.unique_disk_bytes for p in rows]),
    ):
        if any(values):  # a part no platform has (nothing shared) gets no bars, no legend
            chart.add(title, values)
    svg: str = chart.render(is_unicode=True, disable_xml_declaration=True)
    return markupsafe.Markup(svg)  # trusted: pygal escaped every label


def _shown(value: object) -> object:
    """Jinja's ``finalize``: every printed value but numbers and the markup built here (the
    chart) is made text and printable (a ``Platform`` prints its export-given fields) before
    autoescape HTML-escapes it."""
    import markupsafe

    if value is None:
        return ""
    if isinstance(value, markupsafe.Markup | int | float):
        return value
    return printable(str(value))


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("ocianalyze.report", "templates"),
        autoescape=True,
        finalize=_shown,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["human"] = human
    env.filters["grouped"] = lambda n: f"{n:,}"
    env.filters["short"] = lambda d: d.encoded[:12]
    env.filters["label"] = image_label
    return env


def render(r: Report) -> str:
    """The page: the export's footprint chart and layer sharing, the problems, the signatures
    when they were checked (``r.trust``: every ``trust.Evidence`` and the pin notes), then per
    image its summary, layers (stored, uncompressed, on disk, verified), waste and largest
    files (at most ``r.top`` of each)."""
    from .. import __version__

    require_extra()
    fp = export_footprint(r)
    context = {
        "r": r,
        "fp": fp,
        "chart": footprint_chart(fp) if fp.platforms else None,
        "sharing": sharing(r.images),
        "signatures": r.trust.evidence if r.trust is not None else (),
        "trust_notes": r.trust.notes if r.trust is not None else (),
        "severities": _severity_counts(r),
        "version": __version__,
    }
    return _environment().get_template("report.html.j2").render(context)


def _severity_counts(r: Report) -> dict[str, int]:
    counts: dict[str, int] = {}
    for p in r.problems:
        counts[p.severity.value] = counts.get(p.severity.value, 0) + 1
    return counts
