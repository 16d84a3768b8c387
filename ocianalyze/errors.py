"""Typed errors and problems.

An *error* (``OciError``) stops the reading of an export: the input is not an image export we can
read. A *problem* (``Problem``) is a finding about one blob or image: the scan records it and
goes on. Only the CLI turns either into an exit code.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from .record import record


class OciError(Exception):
    """The input cannot be read as an image export. Carries the offending path."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


class NotAnExport(OciError):
    """The path exists but holds no export format we know."""


class BadManifest(OciError):
    """A manifest, index, config or docker manifest.json is malformed."""


class InvalidDigest(OciError, ValueError):
    """A string does not follow the OCI digest grammar, or names an unsupported algorithm."""


class UnsafePath(OciError):
    """A name in the export would lead outside it."""


class TruncatedInput(OciError):
    """The input ended in the middle of an archive."""


class Unreadable(OciError):
    """The file system refused a read (permission denied, a symlink loop, an I/O error).

    ``problem`` is the OS error's text (``os.strerror(errno)``); ``errno`` is kept for callers
    that tell a missing file from an unreadable one."""

    def __init__(self, where: str, problem: str, errno: int | None = None) -> None:
        super().__init__(where, problem)
        self.errno = errno


class Kind(str, enum.Enum):
    """Every kind of problem a scan can report. The value is the stable JSON name."""

    DIGEST_MISMATCH = "digest_mismatch"
    SIZE_MISMATCH = "size_mismatch"
    MISSING_BLOB = "missing_blob"
    CORRUPT_COMPRESSION = "corrupt_compression"
    TRUNCATED = "truncated"
    TRAILING_DATA = "trailing_data"
    NOT_A_TAR = "not_a_tar"
    DIFF_ID_MISMATCH = "diff_id_mismatch"
    MEDIA_TYPE_MISMATCH = "media_type_mismatch"
    UNKNOWN_MEDIA_TYPE = "unknown_media_type"
    UNVERIFIABLE_DIGEST = "unverifiable_digest"
    BAD_METADATA = "bad_metadata"
    MISSING_END_OF_ARCHIVE = "missing_end_of_archive"
    DIFF_ID_COUNT = "diff_id_count_mismatch"
    HISTORY_MISMATCH = "history_mismatch"
    LIMIT_EXCEEDED = "limit_exceeded"
    UNSAFE_PATH = "unsafe_path"
    LINK_ESCAPE = "link_escape"
    DEVICE_NODE = "device_node"  # a device node under /dev: hidden at run time
    SETUID = "setuid_setgid"
    DUPLICATE_ENTRY = "duplicate_entry"
    CASE_COLLISION = "case_collision"
    BLOB_OUTSIDE_EXPORT = "blob_outside_export"
    FOREIGN_LAYER_ABSENT = "foreign_layer_absent"
    PLATFORM_ABSENT = "platform_absent"
    UNREADABLE_BLOB = "unreadable_blob"
    UNSUPPORTED_COMPRESSION = "unsupported_compression"
    INDEX_DISAGREEMENT = "index_disagreement"
    BAD_HARDLINK = "bad_hardlink"
    PLATFORM_MISMATCH = "platform_mismatch"
    # --expect: a pinned digest is not an index or manifest (legacy save: image ID) of the
    # export, or is one whose bytes did not verify (trust/pins.py)
    DIGEST_NOT_EXPECTED = "digest_not_expected"
    DEVICE_NODE_OUTSIDE_DEV = "device_node_outside_dev"  # made by mknod where a container sees it
    # Signatures and attestations (issue 14), checked only when a trust option is given.
    # A signature or attestation that does not verify over its payload (bytes changed, cut,
    # or not parseable as its format claims): someone changed what was signed.
    SIGNATURE_INVALID = "signature_invalid"
    # Valid over its payload, but not from a key or identity the user trusts (or without the
    # transparency-log evidence --require-tlog asks, or naming another --sign-identity).
    SIGNATURE_UNTRUSTED = "signature_untrusted"
    # Valid and trusted, but for another digest than the manifest it is attached to.
    SIGNATURE_MISMATCH = "signature_mismatch"
    # The transparency-log evidence (Rekor SET, inclusion proof) does not verify against the
    # trusted root, or records another signature than the one it sits beside.
    TLOG_INVALID = "tlog_invalid"
    # --require-signature: a runnable image without a verified signature from the given trust.
    UNSIGNED = "unsigned"
    # The payload's docker-reference is none of the export's names for the image.
    SIGNATURE_REFERENCE = "signature_reference_mismatch"
    # A signature format this version recognises but does not verify (Notation).
    SIGNATURE_UNSUPPORTED = "signature_unsupported"


class Severity(str, enum.Enum):
    """How much a problem matters; the value is the JSON name (and SARIF's level, but ``note``).

    - ``error``: the export is not what it claims (a blob that does not hash, a missing or
      unreadable one, metadata Docker or containerd would refuse to load). `verify` fails.
    - ``warning``: something that can hurt when the image is unpacked or run (unsafe paths,
      escaping links, device nodes, a media type that lies, a partial export). `verify
      --strict` fails.
    - ``notice``: a fact a reviewer may want that is normal in healthy images (setuid
      binaries, case collisions in man pages). Never fails a run but through ``--fail-on``.
    """

    ERROR = "error"
    WARNING = "warning"
    NOTICE = "notice"


_E, _W, _N = Severity.ERROR, Severity.WARNING, Severity.NOTICE

# Every kind's severity, decided from what Docker (moby's image/tarexport and pkg/archive) and
# containerd (its content store, images/archive importer and archive.Apply) do with it. The
# README's kinds table gives the same reasons; tests/test_signals_severity.py holds them equal.
SEVERITY: dict[Kind, Severity] = {
    Kind.DIGEST_MISMATCH: _E,  # content store and docker load refuse the blob
    Kind.SIZE_MISMATCH: _E,  # containerd's content writer refuses an unexpected size
    Kind.MISSING_BLOB: _E,  # nothing to load: the image cannot be unpacked
    Kind.CORRUPT_COMPRESSION: _E,  # the decompressor fails while unpacking
    Kind.TRUNCATED: _E,  # unpacking fails with unexpected EOF
    Kind.TRAILING_DATA: _E,  # Go's gzip reader fails on bytes after the stream
    Kind.NOT_A_TAR: _E,  # archive/tar refuses the layer
    Kind.DIFF_ID_MISMATCH: _E,  # docker load and containerd's unpacker refuse it
    Kind.MEDIA_TYPE_MISMATCH: _W,  # runtimes sniff and accept; scanners trusting it are lied to
    Kind.UNKNOWN_MEDIA_TYPE: _W,  # containerd refuses to unpack a layer type it does not know
    Kind.UNVERIFIABLE_DIGEST: _W,  # go-digest refuses the algorithm: the blob stays unchecked
    Kind.BAD_METADATA: _E,  # docker load and containerd's importer refuse the document
    Kind.MISSING_END_OF_ARCHIVE: _N,  # Go's tar reader accepts it: unpacks the same
    Kind.DIFF_ID_COUNT: _E,  # both refuse an image whose layers and diff_ids disagree
    Kind.HISTORY_MISMATCH: _N,  # never read to unpack or run; only `docker history` misaligns
    Kind.LIMIT_EXCEEDED: _E,  # the layer was not read to its end: not verified
    Kind.UNSAFE_PATH: _W,  # pkg/archive refuses it, other extractors may write outside
    Kind.LINK_ESCAPE: _W,  # followed by any tool that extracts without a root jail
    Kind.DEVICE_NODE: _N,  # under /dev: runtimes mount a tmpfs over it, the node is never seen
    Kind.DEVICE_NODE_OUTSIDE_DEV: _W,  # made by mknod on unpack as root, visible in the container
    Kind.SETUID: _N,  # kept on unpack: passwd, su, mount... in every distribution base
    Kind.DUPLICATE_ENTRY: _W,  # the last copy wins on unpack: a scanner reading the first is fooled
    Kind.CASE_COLLISION: _N,  # unpacks apart on Linux; merges only on case-insensitive storage
    Kind.BLOB_OUTSIDE_EXPORT: _E,  # never read: the export does not hold the blob
    Kind.FOREIGN_LAYER_ABSENT: _W,  # fetched from its URL on load: impossible offline
    Kind.PLATFORM_ABSENT: _W,  # a partial export: pulling that platform fails
    Kind.UNREADABLE_BLOB: _E,  # the blob cannot be loaded
    Kind.UNSUPPORTED_COMPRESSION: _E,  # the blob cannot be verified
    Kind.INDEX_DISAGREEMENT: _W,  # docker load reads manifest.json, containerd index.json
    Kind.BAD_HARDLINK: _W,  # unpacking fails on that image
    Kind.PLATFORM_MISMATCH: _W,  # runtimes pick by the index and run what the config says
    Kind.DIGEST_NOT_EXPECTED: _E,  # not the release the user pinned: the trust decision fails
    # Signatures (checked only when a trust option is given): cosign and skopeo refuse an image
    # whose signature does not verify, or that names another digest or a bad log entry.
    Kind.SIGNATURE_INVALID: _E,  # what was signed was changed
    Kind.SIGNATURE_MISMATCH: _E,  # a valid signature for another image
    Kind.TLOG_INVALID: _E,  # the transparency-log evidence lies
    Kind.UNSIGNED: _E,  # --require-signature: no verified signature from the given trust
    Kind.SIGNATURE_UNTRUSTED: _W,  # another signer's signature does not make the image worse
    Kind.SIGNATURE_REFERENCE: _W,  # cosign and skopeo warn (exact only with --sign-identity)
    Kind.SIGNATURE_UNSUPPORTED: _N,  # a Notation signature: a fact; the image is not harmed
}

# The kinds that fail `verify` only with --strict (kept for callers of the old name).
WARNING_KINDS = frozenset(k for k, s in SEVERITY.items() if s is Severity.WARNING)


@record
class Problem:
    """One finding: what kind, which blob, where it is used, and a sentence for people."""

    kind: Kind
    digest: str | None
    path: str
    message: str
    count: int = 1  # findings it stands for: N for a layer's "and N more like it"

    @property
    def severity(self) -> Severity:
        """From ``SEVERITY``; a kind missing there is an error (fail closed)."""
        return SEVERITY.get(self.kind, Severity.ERROR)

    def fails(self, strict: bool = False) -> bool:
        """Whether this problem fails a run: an error always, a warning with ``strict``, a
        notice never (only a ``--fail-on`` gate names it)."""
        return self.severity is Severity.ERROR or (strict and self.severity is Severity.WARNING)

    def line(self) -> str:
        """``<severity>: <kind>: <image>: <message>`` (the image part when there is one)."""
        where = f"{self.path}: " if self.path else ""
        return f"{self.severity.value}: {self.kind.value}: {where}{self.message}"


def tally(problems: Iterable[Problem]) -> dict[Severity, int]:
    """Findings per severity (every severity present, zero included), each problem weighing
    its ``count``."""
    counts = dict.fromkeys(Severity, 0)
    for p in problems:
        counts[p.severity] += p.count
    return counts


def tally_kinds(problems: Iterable[Problem]) -> dict[Kind, int]:
    """Findings per kind, in the order the kinds first appear."""
    counts: dict[Kind, int] = {}
    for p in problems:
        counts[p.kind] = counts.get(p.kind, 0) + p.count
    return counts
