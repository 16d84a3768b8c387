"""JUnit XML (as GitLab's test reports and Jenkins read it): one test case per image.

Each image of the export is a ``<testcase>`` (classname: the export's path; name: the image's
first name, kind and platform). Each error and warning on a blob of that image (its index,
manifest, config or a layer) is a ``<failure>`` whose ``type`` is the problem kind; notices are
listed in the test case's ``<system-out>``, not as failures (they are normal in healthy
images). Problems on no blob of any image (a missing platform, the export's own files) go to
one more test case named ``export``. ``failures`` counts the test cases that failed, as JUnit
does. Strings from the export are escaped (``printable``): XML 1.0 cannot hold control
characters, nor U+FFFE and U+FFFF, which ``printable`` leaves (escaped here the same way).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from ..analysis import Report
from ..errors import Problem, Severity
from ..model import Image
from .escape import printable

EXPORT_CASE = "export"
# What XML 1.0 (section 2.2, Char) refuses and printable() lets through: two noncharacters.
_NOT_XML = re.compile("[\ufffe\uffff]")


def _text(text: str) -> str:
    """``printable(text)``, with the characters XML 1.0 cannot hold as the octal of their
    UTF-8 bytes, as ``printable`` writes the others."""
    return _NOT_XML.sub(
        lambda m: "".join(f"\\{b:03o}" for b in m.group().encode()), printable(text)
    )


def _blobs(image: Image) -> set[str]:
    digests = {image.config_descriptor.digest, *(d.digest for d in image.layers)}
    if image.manifest_descriptor is not None:
        digests.add(image.manifest_descriptor.digest)
    if image.index_digest is not None:
        digests.add(image.index_digest)
    return {str(d) for d in digests}


def _case_name(image: Image) -> str:
    platform = str(image.platform) if image.platform else "unknown platform"
    return _text(f"{image.name} [{image.kind.value}, {platform}]")


def _case(suite: ET.Element, classname: str, name: str, problems: list[Problem]) -> bool:
    """Add one test case; True when it failed."""
    case = ET.SubElement(suite, "testcase", classname=classname, name=name)
    failed = False
    for p in problems:
        if p.severity is not Severity.NOTICE:
            line = _text(p.line())
            failure = ET.SubElement(case, "failure", type=p.kind.value, message=line)
            failure.text = line
            failed = True
    notices = [_text(p.line()) for p in problems if p.severity is Severity.NOTICE]
    if notices:
        ET.SubElement(case, "system-out").text = "\n".join(notices) + "\n"
    return failed


def junit_tree(r: Report) -> ET.Element:
    """The ``<testsuites>`` element of ``r`` (see the module docstring)."""
    path = _text(r.path)
    root = ET.Element("testsuites", name="ocianalyze")
    suite = ET.SubElement(root, "testsuite", name=path)
    images = [(image, _blobs(image)) for image in r.model.images]
    claimed = {d for _, blobs in images for d in blobs}
    failures = 0
    for image, blobs in images:
        mine = [p for p in r.problems if p.digest in blobs]
        failures += _case(suite, path, _case_name(image), mine)
    rest = [p for p in r.problems if p.digest not in claimed]
    if rest:
        failures += _case(suite, path, EXPORT_CASE, rest)
    tests = len(images) + bool(rest)
    for element in (root, suite):
        element.set("tests", str(tests))
        element.set("failures", str(failures))
        element.set("errors", "0")
    suite.set("skipped", "0")
    return root


def render(r: Report) -> str:
    """The XML document, UTF-8, indented, with its declaration and a final newline."""
    root = junit_tree(r)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"
