"""What checking an export's signatures gave, as the report shows it. No cryptography here:
the report and the analysis import this module whether or not a trust option was used."""

from __future__ import annotations

from ..errors import Problem
from ..record import record
from . import Evidence


@record
class TrustResult:
    """``evidence``: every signature and attestation found (or given with ``--bundle``);
    ``per_image``: for each image of the model, in order, the evidence whose subject is its
    manifest or an index that lists it; ``signed``: for each image, whether a verified
    signature from the given trust covers it and every byte it names verified;
    ``problems``: the signature, pin and policy problems; ``notes``: lines for people (how a
    pin was compared)."""

    evidence: tuple[Evidence, ...]
    per_image: tuple[tuple[Evidence, ...], ...]
    signed: tuple[bool, ...]
    problems: tuple[Problem, ...]
    notes: tuple[str, ...] = ()

    def of(self, images: tuple[object, ...], image: object) -> tuple[tuple[Evidence, ...], bool]:
        """The evidence covering ``image`` (one of ``images``, matched by identity) and whether
        it is signed; ``((), False)`` for an image not in ``images``."""
        for i, candidate in enumerate(images):
            if candidate is image:
                return self.per_image[i], self.signed[i]
        return (), False


def describe(ev: Evidence) -> str:
    """One line for people: ``cosign verified by SHA256:… (rekor SET …): why``."""
    what = ev.format.value + (f" {ev.predicate_type}" if ev.predicate_type else "")
    by = f" by {ev.signer}" if ev.signer else ""
    tlog = f", {ev.tlog}" if ev.tlog else ""
    return f"{what} {ev.outcome.value}{by}{tlog}: {ev.reason}"


def to_json(ev: Evidence) -> dict[str, str | None]:
    """The JSON object of one piece of evidence (the README documents it)."""
    return {
        "format": ev.format.value,
        "subject": ev.subject,
        "outcome": ev.outcome.value,
        "reason": ev.reason,
        "source": ev.source,
        "signer": ev.signer,
        "tlog": ev.tlog,
        "predicate_type": ev.predicate_type,
        "reference": ev.reference,
    }
