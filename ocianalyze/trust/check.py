"""The trust orchestrator: every signature and attestation of an export checked, tied to the
bytes this run verified, and the user's policy applied.

The tie (issue 14): a valid signature from the given trust counts only when its payload names
the digest of a manifest (or index) of the export that it is attached to, that manifest's bytes
verified, and every blob it references verified in the same run. A signature on an index covers
the manifests it lists (nested indexes too). ``--require-signature`` then fails every runnable
image that no counted signature covers (``unsigned``).
"""

from __future__ import annotations

from ..digest import Digest
from ..errors import Kind, Problem, Severity
from ..model import Image, ManifestKind
from ..record import replace
from ..sources import Export
from ..verify import Verification
from . import Evidence, Outcome, SignatureFormat, Trust, bundle, cosign, pins, simplesign
from .material import Checked, Context, Found
from .result import TrustResult

NOTATION = "application/vnd.cncf.notary.signature"
_PROBLEM = {
    Outcome.INVALID: Kind.SIGNATURE_INVALID,
    Outcome.MALFORMED: Kind.SIGNATURE_INVALID,
    Outcome.UNTRUSTED: Kind.SIGNATURE_UNTRUSTED,
    Outcome.MISMATCH: Kind.SIGNATURE_MISMATCH,
    Outcome.UNSUPPORTED: Kind.SIGNATURE_UNSUPPORTED,
}


def load(trust: Trust) -> Context:
    """Read the key and trusted-root files before anything else (a bad ``--key`` is a usage
    error, said before a long verification). Raises ``errors.OciError``."""
    return Context.load(trust)


def check(v: Verification, trust: Trust, ctx: Context | None = None) -> TrustResult:
    """Check every signature, attestation and pin of ``v``'s export against ``trust``
    (``ctx``: from ``load``, else read here).

    Raises ``errors.OciError`` (``Unreadable`` too) when a key, trusted root, bundle or pin
    file cannot be read or is not what its option needs: a usage error, never a finding."""
    ctx = ctx or Context.load(trust)
    export = v.export
    good = verified_digests(v)
    tie = _Tie(export, good)
    founds = [*cosign.find(export, ctx), *bundle.find(export, ctx)]
    founds += bundle.from_files(trust.bundles, ctx)
    evidence: list[Evidence] = []
    problems: list[Problem] = []
    for found in founds:
        ev, problem = tie.judge(found, trust)
        evidence.append(ev)
        problems += problem
    for ev in _notation(export):
        evidence.append(ev)
        problems.append(_problem(ev, Kind.SIGNATURE_UNSUPPORTED))
    for ev in simplesign.check(export, good, trust):
        evidence.append(tie.tied(ev))
        kind = _PROBLEM.get(ev.outcome)
        if kind is not None:
            problems.append(_problem(ev, kind))
    pinned, notes = pins.check(export, good, trust.expect)
    problems += pinned
    images = export.model.images
    by_subject: dict[str | None, list[int]] = {}
    for n, e in enumerate(evidence):
        by_subject.setdefault(e.subject, []).append(n)
    per_image = tuple(
        tuple(evidence[n] for n in sorted(n for d in tie.chain(i) for n in by_subject.get(d, ())))
        for i in images
    )
    # An attestation says something about the image; only a signature signs it (cosign's
    # `verify` asks for a signature, `verify-attestation` for an attestation).
    signed = tuple(
        any(
            e.predicate_type is None and (e.outcome is Outcome.VERIFIED or tie.counts_for(e, i))
            for e in evs
        )
        and tie.image_good(i)
        for i, evs in zip(images, per_image, strict=True)
    )
    if trust.require_signature:
        problems += _unsigned(images, signed, per_image)
    return TrustResult(tuple(evidence), per_image, signed, tuple(problems), tuple(notes))


def verified_digests(v: Verification) -> set[Digest]:
    """Blobs and metadata documents (indexes, manifests, configs) whose bytes verified."""
    bad = {p.digest for p in v.problems if p.severity is Severity.ERROR}
    observed = {d for d, o in v.export.observed.items() if o.digest == d and str(d) not in bad}
    return v.verified() | observed


class _Tie:
    """Which digests the export holds, which index lists which manifest, what verified."""

    def __init__(self, export: Export, good: set[Digest]) -> None:
        self.export, self.good = export, good
        self.good_names = {str(d) for d in good}
        self._chains: dict[int, set[str]] = {}
        self.parents: dict[str, set[str]] = {}
        for ref in export.model.indexes:
            for child in ref.index.manifests:
                self.parents.setdefault(str(child.digest), set()).add(str(ref.descriptor.digest))
        self.known = {str(r.descriptor.digest) for r in export.model.indexes}
        self.known |= {
            str(i.manifest_descriptor.digest) for i in export.model.images if i.manifest_descriptor
        }

    def chain(self, image: Image) -> set[str]:
        """The image's manifest digest and every index above it (remembered per image)."""
        known = self._chains.get(id(image))
        if known is None:
            known = self._chains[id(image)] = self._chain(image)
        return known

    def _chain(self, image: Image) -> set[str]:
        if image.manifest_descriptor is None:
            return set()
        out, todo = set(), [str(image.manifest_descriptor.digest)]
        while todo:
            d = todo.pop()
            if d not in out:
                out.add(d)
                todo += self.parents.get(d, ())
        if image.index_digest is not None:
            out.add(str(image.index_digest))
        return out

    def covers(self, subject: str | None, image: Image) -> bool:
        return subject is not None and subject in self.chain(image)

    def image_good(self, image: Image) -> bool:
        """The image's manifest, config and every layer verified in this run."""
        if image.manifest_descriptor is None:
            return False
        need = [image.manifest_descriptor.digest, image.config_descriptor.digest]
        need += [d.digest for d in image.layers]
        return all(d in self.good for d in need)

    def subject_good(self, subject: str) -> bool:
        covered = [i for i in self.export.model.images if self.covers(subject, i)]
        return subject in self.good_names and all(self.image_good(i) for i in covered)

    def counts_for(self, e: Evidence, image: Image) -> bool:
        """An index signature with one bad platform still counts for the good ones."""
        return e.outcome is Outcome.UNVERIFIED_BYTES and e.reason == _VALID_PARTIAL

    def tied(self, ev: Evidence) -> Evidence:
        """Evidence a format module marked VERIFIED, held to the bytes of this run."""
        if ev.outcome is Outcome.VERIFIED and (
            ev.subject is None or not self.subject_good(ev.subject)
        ):
            return replace(ev, outcome=Outcome.UNVERIFIED_BYTES, reason=_UNVERIFIED)
        return ev

    def judge(self, f: Found, trust: Trust) -> tuple[Evidence, list[Problem]]:
        """The evidence of ``f`` and its problems (the tie, the reference, the policy)."""
        c = f.checked
        subject = (
            f.attached
            if f.attached is not None
            else next(
                (s for s in f.subjects if s in self.known), f.subjects[0] if f.subjects else None
            )
        )
        if c.outcome is not Outcome.VERIFIED:
            ev = _evidence(f, c, subject)
            kind = c.kind if c.outcome is not Outcome.NO_TRUST else None
            return ev, [_problem(ev, kind)] if kind is not None else []
        if subject is None or subject not in f.subjects:
            why = f"valid, but names {', '.join(f.subjects) or 'no digest'}, not {subject}"
            return self._fail(f, c, subject, Outcome.MISMATCH, why, Kind.SIGNATURE_MISMATCH)
        if subject not in self.known:
            why = f"valid, but for {subject}, which the export does not hold"
            return self._fail(f, c, subject, Outcome.MISMATCH, why, Kind.SIGNATURE_MISMATCH)
        problems: list[Problem] = []
        if f.reference is not None:
            refs = {r for i in self.export.model.images if self.covers(subject, i) for r in i.refs}
            if trust.sign_identity is not None and f.reference != trust.sign_identity:
                why = f"names {f.reference}, not --sign-identity {trust.sign_identity}"
                return self._fail(f, c, subject, Outcome.UNTRUSTED, why, Kind.SIGNATURE_UNTRUSTED)
            if refs and not any(_same_ref(f.reference, r) for r in refs):
                ev0 = _evidence(f, c, subject)
                problems.append(
                    _problem(
                        ev0,
                        Kind.SIGNATURE_REFERENCE,
                        f"names {f.reference}, the export "
                        f"names the image {', '.join(sorted(refs))}",
                    )
                )
        if f.carrier is not None and not self.image_good(f.carrier):
            # the signature's own manifest or a blob of it (payload, config) failed: what it
            # says was not read from the bytes the export names
            c = replace(c, outcome=Outcome.UNVERIFIED_BYTES, reason=_CARRIER)
            return _evidence(f, c, subject), problems
        if not self.subject_good(subject):
            covered = [i for i in self.export.model.images if self.covers(subject, i)]
            partial = any(self.image_good(i) for i in covered) and subject in self.good_names
            why = _VALID_PARTIAL if partial else _UNVERIFIED
            c = replace(c, outcome=Outcome.UNVERIFIED_BYTES, reason=why)
        return _evidence(f, c, subject), problems

    def _fail(
        self, f: Found, c: Checked, subject: str | None, outcome: Outcome, why: str, kind: Kind
    ) -> tuple[Evidence, list[Problem]]:
        ev = _evidence(f, replace(c, outcome=outcome, reason=why), subject)
        return ev, [_problem(ev, kind)]


_UNVERIFIED = "valid, but the manifest or a blob it references failed verification"
_VALID_PARTIAL = "valid, but some manifests it covers failed verification"
_CARRIER = "valid, but the manifest holding the signature or a blob of it failed verification"


def _same_ref(signed: str, name: str) -> bool:
    """A payload's docker-reference (``registry/repo:tag``) against a name the export gives
    (the same, or its tag alone, as OCI layouts name images)."""
    return signed == name or signed.endswith(("/" + name, ":" + name))


def _evidence(f: Found, c: Checked, subject: str | None) -> Evidence:
    return Evidence(
        f.format,
        subject,
        c.outcome,
        c.reason,
        f.source,
        c.signer,
        c.tlog,
        f.predicate_type,
        f.reference,
    )


def _problem(ev: Evidence, kind: Kind, message: str | None = None) -> Problem:
    what = ev.format.value + (f" ({ev.predicate_type})" if ev.predicate_type else "")
    return Problem(kind, ev.subject, ev.source, f"{what}: {message or ev.reason}")


def _notation(export: Export) -> list[Evidence]:
    """Notation signatures: recognised by their artifact type, never verified here."""
    out = []
    for image in export.model.images:
        m = image.manifest
        if m is None or NOTATION not in (m.artifact_type, m.config.media_type):
            continue
        subject = str(m.subject.digest) if m.subject is not None else None
        out.append(
            Evidence(
                SignatureFormat.NOTATION,
                subject,
                Outcome.UNSUPPORTED,
                "not verified: format not supported",
                image.name,
            )
        )
    return out


def _unsigned(
    images: tuple[Image, ...], signed: tuple[bool, ...], per_image: tuple[tuple[Evidence, ...], ...]
) -> list[Problem]:
    out = []
    for image, ok, evs in zip(images, signed, per_image, strict=True):
        if ok or image.kind is not ManifestKind.IMAGE:
            continue
        md = image.manifest_descriptor
        if md is None:
            why = "a legacy docker save keeps no manifest to sign"
        elif evs:
            why = "no signature counts: " + "; ".join(sorted({e.reason for e in evs}))
        else:
            why = "no signature found"
        out.append(
            Problem(
                Kind.UNSIGNED,
                str(md.digest) if md else None,
                image.name,
                f"no verified signature from the given trust ({why})",
            )
        )
    return out
