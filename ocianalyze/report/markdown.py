"""The docker-library "repo-info" page (github.com/docker-library/repo-info), from an export.

Field for field as the registry page, plus the sizes only an export can measure. Where the export
cannot give a field the registry page had, the line says where its value came from instead.
Names, media types and history come from the export: untrusted, so every one is escaped.
Pure: no I/O, no clock.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

from ..analysis import LayerFacts, Report
from ..merge import MergeResult
from ..model import Absent, Descriptor, History, Image, ManifestKind, Platform
from .escape import printable
from .units import human_exact

NO_MANIFEST = (
    "-\tManifest: none (legacy `docker save` keeps no manifest; layer digests below are diff_ids)"
)
RECOMPUTED = "(recomputed by the exporting tool: uncompressed layer, not the registry's blob)"
NOT_READ = "unknown (layer not read)"

# An unnamed image's section is titled by its digest, which would otherwise parse as name:tag.
_DIGEST = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-fA-F0-9]{32,}")
# A tag may only be [A-Za-z0-9_][A-Za-z0-9_.-]{0,127} (distribution spec), so a colon followed
# by a slash (a registry port, "localhost:5000/app") does not start one.
_NAME_TAG = re.compile(r"(?P<repo>[^\s@]+):[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_RFC3339 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.\d+)?(?:[Zz]|(?P<off>[+-]\d\d:\d\d))"
)
# The classic builder records "<shell> #(nop) <instruction>" for steps that run nothing and
# "<shell> <command>" for RUN; BuildKit records "RUN /bin/sh -c <command>".
_NOP = re.compile(r"(?:/bin/sh -c|cmd /S /C) #\(nop\) ")
_RUN = re.compile(r"(?:RUN )?/bin/sh -c |cmd /S /C ")
_MARKDOWN = re.compile(r"([\\`*_\[\]<>&|#])")  # characters that would turn text into markup


# --- escaping ------------------------------------------------------------------------------


def _text(value: str) -> str:
    """Untrusted text outside code: no control characters, no markup."""
    return _MARKDOWN.sub(r"\\\1", printable(value))


def _code(value: str) -> str:
    """An inline code span that no backtick in ``value`` can close early (CommonMark)."""
    value = printable(value)
    ticks = "`" * (max((len(run) for run in re.findall("`+", value)), default=0) + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{ticks}{pad}{value}{pad}{ticks}"


def _keep_tabs(value: str) -> str:
    """printable(), but keeping tabs: RUN lines carry them (as in the example). Inside a fence a
    tab cannot make markup; a newline would add a line the export chose, so it is escaped."""
    return "\t".join(printable(part) for part in value.split("\t"))


def _fence(info: str, lines: list[str]) -> list[str]:
    """A fenced block longer than any backtick run inside, so content cannot close it."""
    longest = max((len(run) for line in lines for run in re.findall("`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{info}", *lines, fence]


# --- values --------------------------------------------------------------------------------


def repository(ref: str) -> str:
    """The name to pull from: the ref without its tag, or a placeholder when it is only a tag.

    OCI layouts often name an image by its tag alone ("1.0"); inventing a name would mislead.
    """
    m = None if _DIGEST.fullmatch(ref) else _NAME_TAG.fullmatch(ref)
    return printable(m.group("repo")) if m else "<repository>"


def platform_text(p: Platform | None) -> str:
    """repo-info's spelling: "linux; arm64 variant v8", "windows version 10.0.17763.5329; amd64"."""
    if p is None:
        return "unknown; unknown"
    os_part = f"{p.os or 'unknown'} version {p.os_version}" if p.os_version else p.os or "unknown"
    arch = f"{p.architecture or 'unknown'} variant {p.variant}" if p.variant else p.architecture
    return _text(f"{os_part}; {arch or 'unknown'}")


def http_date(stamp: str) -> str | None:
    """RFC 3339 (config `created`) to RFC 7231 ("Wed, 19 Jun 2019 21:19:43 GMT"), or None.

    Parsed by hand: Python 3.10's fromisoformat takes neither "Z" nor Go's nanoseconds.
    Fractions are dropped, as HTTP dates have whole seconds.
    """
    m = _RFC3339.fullmatch(stamp)
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    try:
        tz = timezone.utc
        if m.group("off"):
            sign = -1 if m.group("off")[0] == "-" else 1
            hh, mm = m.group("off")[1:].split(":")
            tz = timezone(sign * timedelta(hours=int(hh), minutes=int(mm)))
        # A leap second (:60) has no datetime; HTTP dates cannot show it either.
        when = datetime(year, month, day, hour, minute, min(second, 59), tzinfo=tz)
        return format_datetime(when.astimezone(timezone.utc), usegmt=True)
    except (ValueError, OverflowError):
        return None


def mtime_date(mtime: float) -> str | None:
    try:
        return format_datetime(datetime.fromtimestamp(mtime, timezone.utc), usegmt=True)
    except (ValueError, OverflowError, OSError):
        return None


def dockerfile_line(created_by: str) -> str:
    """The classic builder's shell form back to a Dockerfile line, as repo-info shows it."""
    nop = _NOP.match(created_by)
    if nop:
        return created_by[nop.end() :].lstrip()
    run = _RUN.match(created_by)
    if run:
        return "RUN " + created_by[run.end() :]
    return created_by  # BuildKit's "ENV ...", "COPY ... # buildkit", Windows' "Apply image ..."


def dockerfile(history: Iterable[History]) -> list[str]:
    """One `# <date>` comment and one instruction per history entry."""
    lines: list[str] = []
    for entry in history:
        if entry.created:
            lines.append("# " + _keep_tabs(http_date(entry.created) or entry.created))
        if entry.created_by:
            lines.append(_keep_tabs(dockerfile_line(entry.created_by)))
    return lines


def _bold_sum(values: list[int | None]) -> str:
    """A total in bold, saying how many layers it misses rather than passing a part as a whole."""
    known = [n for n in values if n is not None]
    if values and not known:
        return "unknown (no layer read)"
    text = f"**{human_exact(sum(known))}**"
    missing = len(values) - len(known)
    return text if not missing else f"at least {text} ({missing} of {len(values)} layers not read)"


# --- the tag section -----------------------------------------------------------------------


def _by_tag(images: Iterable[Image]) -> dict[str, list[Image]]:
    """Every name the export gives, in order; an image appears under each of its names."""
    tags: dict[str, list[Image]] = {}
    for image in images:
        for ref in image.refs or (image.name,):
            tags.setdefault(ref, []).append(image)
    return tags


def _target(r: Report, tag: str, images: list[Image]) -> Descriptor | None:
    """What the tag names: its image index, else its only manifest; None when neither exists."""
    indexes = r.model.indexes
    named = [i for i in indexes if tag in i.refs]
    if not named:
        inner = {img.index_digest for img in images}
        named = [i for i in indexes if len(inner) == 1 and i.descriptor.digest in inner]
    if named:
        return named[0].descriptor
    manifests = {img.manifest_descriptor for img in images if img.manifest_descriptor}
    return manifests.pop() if len(manifests) == 1 else None


def _index_mime(r: Report, desc: Descriptor) -> str:
    """The descriptor's media type, else the index's own (a descriptor may leave it empty)."""
    for ref in r.model.indexes:
        if ref.descriptor.digest == desc.digest:
            return desc.media_type or ref.index.media_type or "unknown"
    return desc.media_type or "unknown"


def _pull(ref: str, digest: str) -> list[str]:
    return [*_fence("console", [f"$ docker pull {repository(ref)}@{printable(digest)}"]), ""]


def _tag_head(r: Report, tag: str, images: list[Image]) -> list[str]:
    lines = [f"## {_code(tag)}", ""]
    target = _target(r, tag, images)
    if target is not None:
        lines += _pull(tag, str(target.digest))
        lines.append(f"-\tManifest MIME: {_code(_index_mime(r, target))}")
    elif any(img.manifest_descriptor for img in images):
        lines.append("-\tManifest: several manifests carry this name, with no index to pull")
    else:
        lines.append(NO_MANIFEST)
    return lines


def _platforms(images: list[Image], absent: list[Absent]) -> list[str]:
    shown = [f"\t-\t{platform_text(i.platform)}" for i in images if i.kind is ManifestKind.IMAGE]
    shown += [
        f"\t-\t{platform_text(a.descriptor.platform)} (manifest not in the export)"
        for a in absent
        if a.descriptor.platform is not None
    ]
    return ["-\tPlatforms:", *shown] if shown else ["-\tPlatforms: none"]


def _attestations(r: Report, images: list[Image]) -> list[str]:
    """Attestations are not platforms (repo-info lists them as "unknown; unknown"): say whose."""
    by_manifest = {
        str(i.manifest_descriptor.digest): i for i in r.model.images if i.manifest_descriptor
    }
    lines = []
    for image in images:
        if image.kind is not ManifestKind.ATTESTATION:
            continue
        subject = by_manifest.get(str(image.attests)) if image.attests else None
        about = platform_text(subject.platform) if subject else _code(str(image.attests))
        lines.append(f"\t-\t{platform_text(image.platform)}, attesting {about}")
    return ["-\tAttestations:", *lines] if lines else []


def _other_line(image: Image) -> str:
    digest = image.manifest_descriptor.digest if image.manifest_descriptor else None
    line = f"\t-\t{image.kind.value} {_code(str(digest or image.config_descriptor.digest))}"
    if image.manifest and image.manifest.artifact_type:
        line += f", type {_code(image.manifest.artifact_type)}"
    if image.manifest and image.manifest.subject:
        line += f", subject {_code(str(image.manifest.subject.digest))}"
    return line


def _others(images: list[Image], absent: list[Absent]) -> list[str]:
    kinds = (ManifestKind.SIGNATURE, ManifestKind.ARTIFACT)
    lines = [_other_line(i) for i in images if i.kind in kinds]
    lines += [
        f"\t-\t{_code(str(a.descriptor.digest))} (not in the export)"
        for a in absent
        if a.descriptor.platform is None
    ]
    return ["-\tOther manifests:", *lines] if lines else []


def _tag_section(r: Report, tag: str, images: list[Image]) -> list[str]:
    absent = [a for a in r.model.absent if tag in a.refs]
    lines = _tag_head(r, tag, images)
    lines += _platforms(images, absent)
    lines += _attestations(r, images)
    lines += _others(images, absent)
    for image in images:
        if image.kind is ManifestKind.IMAGE:
            lines += ["", *_image_section(r, tag, image)]
    return lines


# --- the platform section ------------------------------------------------------------------


def _total_size(image: Image, facts: list[LayerFacts]) -> list[str]:
    if image.manifest_descriptor is None:  # a legacy save: no manifest, no transfer size
        return ["-\tTotal Size: unknown (the export holds only uncompressed layers)"]
    total = sum(f.descriptor.size for f in facts)
    note = "(compressed transfer size, not on-disk size)"
    if any(f.recomputed for f in facts):
        note = "(size as exported: layers stored uncompressed, not the registry's transfer size)"
    return [f"-\tTotal Size: **{human_exact(total)}**  ", f"\t{note}"]


def _measured(facts: list[LayerFacts]) -> list[str]:
    uncompressed = [f.scan.uncompressed_size if f.scan else None for f in facts]
    disk = [f.scan.tar.disk_bytes if f.scan and f.scan.tar else None for f in facts]
    return [
        f"-\tUncompressed Size: {_bold_sum(uncompressed)}  ",
        f"-\tOn-disk Size: {_bold_sum(disk)}  ",
        "\t(sum of files rounded up to 4096-byte blocks, one block per directory)",
    ]


def _image_facts(image: Image, facts: list[LayerFacts]) -> list[str]:
    config = image.config
    md = image.manifest_descriptor
    lines = []
    if config is not None and config.docker_version:
        lines.append(f"-\tDocker Version: {_text(config.docker_version)}")
    lines.append(NO_MANIFEST if md is None else f"-\tManifest MIME: {_code(md.media_type)}")
    lines += _total_size(image, facts)
    lines += _measured(facts)
    lines.append(f"-\tImage ID: {_code(str(image.config_descriptor.digest))}")
    if config is None:
        lines.append("-\tDefault Command: unknown (config not in the export)")
    else:
        for label, value in (("Entrypoint", config.entrypoint), ("Default Command", config.cmd)):
            if value is not None:
                lines.append(f"-\t{label}: {_code(_compact_json(value))}")
    return lines


def _compact_json(value: tuple[str, ...]) -> str:
    return json.dumps(list(value), separators=(",", ":"), ensure_ascii=False)


def _last_modified(fact: LayerFacts) -> str:
    """An export has no registry Last-Modified header: show the newest file's mtime, labelled."""
    if fact.scan is None:
        return NOT_READ
    newest = fact.scan.tar.newest_mtime if fact.scan.tar else None
    date = mtime_date(newest) if newest is not None else None
    return f"{date} (newest file in the layer)" if date else "unknown (no file dates in the layer)"


def _layer(fact: LayerFacts) -> list[str]:
    scan = fact.scan
    tar = scan.tar if scan else None
    digest = _code(str(fact.descriptor.digest))
    mark = f" {RECOMPUTED}" if fact.recomputed else ""
    size = scan.uncompressed_size if scan else None
    return [
        f"\t-\t{digest}{mark}  ",
        f"\t\tLast Modified: {_last_modified(fact)}  ",
        f"\t\tSize: {human_exact(fact.descriptor.size)}  ",
        f"\t\tUncompressed: {human_exact(size) if size is not None else NOT_READ}  ",
        f"\t\tOn disk: {human_exact(tar.disk_bytes) if tar else NOT_READ}  ",
        f"\t\tMIME: {_text(fact.descriptor.media_type)}",
    ]


def _waste(m: MergeResult | None) -> list[str]:
    """Beyond the registry page: what a container sees, and what later layers hide."""
    if m is None:
        return []
    lines = [
        f"-\tMerged Filesystem: **{human_exact(m.file_bytes)}** in {m.files} files, "
        f"**{human_exact(m.disk_bytes)}** on disk  ",
        "\t(every layer applied, as a container sees it)",
    ]
    if not m.wasted_bytes:
        return [*lines, f"-\tWasted Space: none (efficiency {m.efficiency:.1%})"]
    lines.append(
        f"-\tWasted Space: **{human_exact(m.wasted_bytes)}** in files hidden by later "
        f"layers (efficiency {m.efficiency:.1%})"
    )
    lines += [
        f"\t-\t{_code(w.path)}: {human_exact(w.bytes)}, {printable(w.how)} "
        f"in layer {w.by_layer + 1}"
        for w in m.wasted
    ]
    return lines


def _signed_by(r: Report, image: Image) -> list[str]:
    """ "Signed by …": the verified signers of the image, when a trust option was given."""
    if r.trust is None:
        return []
    evidence, signed = r.trust.of(r.model.images, image)
    signers = sorted(
        {
            f"{e.signer} ({e.format.value})"
            for e in evidence
            if e.signer and signed and e.outcome.value in ("verified", "unverified_bytes")
        }
    )
    if not signers:
        return ["-\tSigned by: nobody the given keys or identities name"]
    return [f"-\tSigned by: {', '.join(_text(s) for s in signers)}"]


def _image_section(r: Report, tag: str, image: Image) -> list[str]:
    analysis = r.analysis_of(image)
    facts = analysis.layers
    lines = [f"### {_code(tag)} - {platform_text(image.platform)}", ""]
    if image.manifest_descriptor is not None:
        lines += _pull(tag, str(image.manifest_descriptor.digest))
    lines += _image_facts(image, facts)
    lines += _signed_by(r, image)
    lines += _waste(analysis.merge)
    history = dockerfile(image.config.history) if image.config else []
    if history:
        lines += ["", *_fence("dockerfile", history)]
    lines += ["", "-\tLayers:"]
    for fact in facts:
        lines += _layer(fact)
    return lines


def render(r: Report) -> str:
    """The page: one section per name the export gives, one subsection per platform image.

    The lists of wasted and largest files hold at most ``r.top`` items (`--top`)."""
    sections = [_tag_section(r, tag, imgs) for tag, imgs in _by_tag(r.model.images).items()]
    return "\n\n".join("\n".join(lines) for lines in sections) + "\n"
