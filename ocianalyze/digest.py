"""Digest values: strict parsing, hashing, and the one safe mapping from a digest to a path."""

from __future__ import annotations

import re
from functools import total_ordering

from .errors import InvalidDigest
from .record import record

# OCI image-spec descriptor.md grammar.
_ALGORITHM = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*")
_ENCODED = re.compile(r"[a-zA-Z0-9=_-]+")
# Registered algorithms we can hash, with their exact encodings.
_HEX = {"sha256": re.compile(r"[a-f0-9]{64}"), "sha512": re.compile(r"[a-f0-9]{128}")}


@total_ordering
@record
class Digest:
    algorithm: str
    encoded: str

    @classmethod
    def parse(cls, value: object, where: str = "digest") -> Digest:
        """Parse ``algorithm:encoded`` by the OCI grammar (image-spec descriptor.md).

        An algorithm we cannot hash (blake3, anything registered later) is accepted when it
        fits the grammar: the spec says it is not an error by itself; the verifier reports that
        the blob cannot be verified (``hashable`` is False). sha256 and sha512 must have their
        exact lowercase-hex encodings. Raises InvalidDigest otherwise.
        """
        if not isinstance(value, str):
            raise InvalidDigest(where, f"digest is not a string: {value!r}")
        algorithm, sep, encoded = value.partition(":")
        if not sep or not _ALGORITHM.fullmatch(algorithm) or not _ENCODED.fullmatch(encoded):
            raise InvalidDigest(where, f"invalid digest {value[:200]!r}")
        pattern = _HEX.get(algorithm)
        if pattern is not None and not pattern.fullmatch(encoded):
            raise InvalidDigest(where, f"invalid {algorithm} digest {value[:200]!r}")
        if len(encoded) > 1024:
            raise InvalidDigest(where, f"digest too long ({len(encoded)} characters)")
        return cls(algorithm, encoded)

    @property
    def hashable(self) -> bool:
        """True when this digest's algorithm is one we hash (sha256, sha512)."""
        return self.algorithm in _HEX

    @classmethod
    def of(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        """The digest of ``data``. Raises ValueError for an algorithm hashlib lacks."""
        import hashlib  # here: loading OpenSSL costs ~2 ms that `inspect` never needs

        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())

    @property
    def blob_path(self) -> str:
        """The path of this blob inside an OCI layout. Safe: both parts were validated."""
        return f"blobs/{self.algorithm}/{self.encoded}"

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.encoded}"

    def __lt__(self, other: object) -> bool:
        """Ordered by algorithm, then encoding (sorted listings are stable across runs); a
        Digest is not ordered against anything else (TypeError, as for a dataclass)."""
        if not isinstance(other, Digest):
            return NotImplemented
        return (self.algorithm, self.encoded) < (other.algorithm, other.encoded)


def chain_ids(diff_ids: tuple[Digest, ...]) -> tuple[Digest, ...]:
    """ChainID(1) = DiffID(1); ChainID(n) = sha256(ChainID(n-1) + " " + DiffID(n))."""
    out: list[Digest] = []
    for diff_id in diff_ids:
        if not out:
            out.append(diff_id)
        else:
            out.append(Digest.of(f"{out[-1]} {diff_id}".encode()))
    return tuple(out)
