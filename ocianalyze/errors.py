"""Typed errors and problems.

An *error* (``OciError``) stops the reading of an export: the input is not an image export we can
read. A *problem* (``Problem``) is a finding about one blob or image: the scan records it and
goes on. Only the CLI turns either into an exit code.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


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
    DEVICE_NODE = "device_node"
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
    ERROR = "error"
    WARNING = "warning"


# Kinds that do not make `verify` fail (unless --strict): the export is still what it claims.
WARNING_KINDS = frozenset(
    {
        Kind.MEDIA_TYPE_MISMATCH,
        Kind.UNKNOWN_MEDIA_TYPE,
        Kind.MISSING_END_OF_ARCHIVE,
        Kind.HISTORY_MISMATCH,
        Kind.UNSAFE_PATH,
        Kind.LINK_ESCAPE,
        Kind.DEVICE_NODE,
        Kind.SETUID,
        Kind.DUPLICATE_ENTRY,
        Kind.CASE_COLLISION,
        Kind.FOREIGN_LAYER_ABSENT,
        Kind.PLATFORM_ABSENT,
        Kind.UNVERIFIABLE_DIGEST,
        Kind.INDEX_DISAGREEMENT,
        Kind.BAD_HARDLINK,
        Kind.PLATFORM_MISMATCH,
        Kind.SIGNATURE_UNTRUSTED,  # another publisher's signature does not make ours worse
        Kind.SIGNATURE_REFERENCE,
        Kind.SIGNATURE_UNSUPPORTED,
    }
)


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding: what kind, which blob, where it is used, and a sentence for people."""

    kind: Kind
    digest: str | None
    path: str
    message: str

    @property
    def severity(self) -> Severity:
        return Severity.WARNING if self.kind in WARNING_KINDS else Severity.ERROR

    def line(self) -> str:
        tag = "warning" if self.severity is Severity.WARNING else "error"
        where = f"{self.path}: " if self.path else ""
        return f"{tag}: {self.kind.value}: {where}{self.message}"
