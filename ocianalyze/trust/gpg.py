"""OpenPGP signatures checked with the ``gpg`` binary, in a keyring of the user's keys only.

Each ``Keyring`` is a fresh temporary GnuPG home (mode 0700) into which only the OpenPGP
public keys the user gave are imported; it is deleted on ``close()``. The user's own keyring,
agent and configuration are never read or written: ``GNUPGHOME`` and ``--homedir`` both name
the temporary home, ``--no-autostart`` keeps gpg-agent and dirmngr from starting, and key
retrieval is off, so nothing touches the network. Since the keyring holds nothing but the
given keys, a signature gpg calls good was made by one of them (``--trust-model always``: the
user's choice of key is the trust decision, as containers/image's ``signedBy`` policy).

A verdict is read from gpg's machine-readable status lines (``--status-file``; GnuPG's
doc/DETAILS), never from its messages for people: ``NEWSIG`` starts a signature, ``GOODSIG`` +
``VALIDSIG`` (whose last field is the primary key's fingerprint) make it good; ``BADSIG``,
``EXPSIG``, ``EXPKEYSIG``, ``REVKEYSIG`` and ``ERRSIG`` make it bad, ``ERRSIG`` with code 9
saying the key is not in the keyring.
"""

from __future__ import annotations

import enum
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

from ..errors import OciError, Unreadable
from ..record import record

GPG_TIMEOUT = 60.0  # seconds for one gpg run: a signature is a few hundred bytes
MAX_PAYLOAD = 4 << 20  # bytes of signed data read back: containers/image's signature bound
MAX_KEY_FILE = 16 << 20  # bytes: a public key file larger than this is refused
_NO_PUBKEY = "9"  # ERRSIG's return code for a key not in the keyring (GPG_ERR_NO_PUBKEY)
# OpenPGP packet tags (RFC 4880 section 4.2) that start a transferable key: old format
# (bit 6 clear, tag in bits 5..2) and new format (bit 6 set, tag in bits 5..0).
_PUBLIC_KEY_FIRST = frozenset({0x98, 0x99, 0x9A, 0x9B, 0xC6})
_SECRET_KEY_FIRST = frozenset({0x94, 0x95, 0x96, 0x97, 0xC5})


class GpgUnavailable(OciError):
    """The ``gpg`` binary is needed (a simple-signing signature and an OpenPGP key were
    given) but is not installed, or it failed in a way that says nothing about the input."""


class KeyKind(enum.Enum):
    """What a ``--key`` file holds, from its first bytes."""

    OPENPGP = "openpgp"  # an OpenPGP public key (armored or binary): imported here
    OPENPGP_SECRET = "openpgp-secret"  # a private key: refused (give the public key)
    OTHER = "other"  # a PEM key or anything else: for the other signature formats


def key_kind(data: bytes) -> KeyKind:
    """Tell an OpenPGP public key from the other key formats by its armor header (RFC 4880
    section 6.2) or its first packet's tag, never by the file name."""
    text = data.lstrip()
    if text.startswith(b"-----BEGIN PGP PUBLIC KEY BLOCK-----"):
        return KeyKind.OPENPGP
    if text.startswith(b"-----BEGIN PGP PRIVATE KEY BLOCK-----"):
        return KeyKind.OPENPGP_SECRET
    if data[:1] and data[0] in _PUBLIC_KEY_FIRST and _key_version(data) in _KEY_VERSIONS:
        return KeyKind.OPENPGP
    if data[:1] and data[0] in _SECRET_KEY_FIRST and _key_version(data) in _KEY_VERSIONS:
        return KeyKind.OPENPGP_SECRET
    return KeyKind.OTHER


# A key packet's body starts with its version: 3 and 4 (RFC 4880 5.5.2), 5, 6 (RFC 9580).
_KEY_VERSIONS = frozenset({3, 4, 5, 6})


def _key_version(data: bytes) -> int | None:
    """The version byte of the key packet that starts ``data``, found past its header (RFC
    4880 4.2: old format, length type in the low two bits; new format, the length's first
    octet says how many follow), or None when the data ends first."""
    if data[0] & 0x40:  # new format
        first = data[1] if len(data) > 1 else 0
        at = 2 if first < 192 or 224 <= first < 255 else 3 if first < 224 else 6
    else:
        at = 1 + (1, 2, 4, 0)[data[0] & 0x03]
    return data[at] if len(data) > at else None


def read_key(path: str) -> bytes:
    """The bytes of a ``--key`` file. Raises ``Unreadable`` (missing, refused, too large)."""
    from .files import read_given

    return read_given(path, MAX_KEY_FILE, "a public key")


class Status(enum.Enum):
    """gpg's verdict on one signed message."""

    GOOD = "good"  # exactly one signature, good, by a key of the keyring
    BAD = "bad"  # the signature does not verify over the data (BADSIG)
    EXPIRED = "expired"  # EXPSIG, EXPKEYSIG or REVKEYSIG: valid once, not now
    NO_KEY = "no_key"  # signed by a key not in the keyring: not checked
    NOT_SIGNED = "not_signed"  # no OpenPGP signed message (garbage, a literal or encrypted one)
    SEVERAL = "several"  # more than one signature (containers/image accepts exactly one)
    ERROR = "error"  # gpg could not check it (ERRSIG with another code, a damaged packet)


@record
class Verdict:
    """One ``gpg --decrypt`` of a signed message. ``fingerprint``: the primary key's (GOOD), or
    the issuer's fingerprint or long key ID gpg names (NO_KEY, BAD); ``payload``: the signed
    literal data, which only a GOOD verdict authenticates; ``detail``: one line for people."""

    status: Status
    fingerprint: str | None
    payload: bytes
    detail: str


def parse_status(lines: Iterable[str], returncode: int) -> tuple[Status, str | None, str]:
    """gpg's status lines (``[GNUPG:] KEYWORD args``) to a verdict, its key and a reason."""
    seen: dict[str, list[str]] = {}
    signatures = 0
    for line in lines:
        if not line.startswith("[GNUPG:] "):
            continue
        keyword, *args = line[9:].split(" ")
        if keyword == "NEWSIG":
            signatures += 1
        seen.setdefault(keyword, args)
    if signatures > 1:
        return Status.SEVERAL, None, f"{signatures} signatures in one message (one expected)"
    for keyword, status in (("EXPSIG", Status.EXPIRED), ("EXPKEYSIG", Status.EXPIRED)):
        if keyword in seen:
            return status, _key(seen[keyword]), "the signature or its key has expired"
    if "REVKEYSIG" in seen:
        return Status.EXPIRED, _key(seen["REVKEYSIG"]), "the signing key is revoked"
    if "BADSIG" in seen:
        return Status.BAD, _key(seen["BADSIG"]), "the signature does not match the signed data"
    if "ERRSIG" in seen:
        return _errsig(seen["ERRSIG"])
    if "GOODSIG" in seen and "VALIDSIG" in seen and returncode == 0 and signatures == 1:
        valid = seen["VALIDSIG"]
        return Status.GOOD, valid[-1] if len(valid) >= 10 else valid[0], "good signature"
    if not signatures:
        return Status.NOT_SIGNED, None, "not an OpenPGP signed message"
    return Status.ERROR, None, f"gpg could not check the signature (exit {returncode})"


def _key(args: list[str]) -> str | None:
    return args[0] if args and args[0] != "-" else None


def _errsig(args: list[str]) -> tuple[Status, str | None, str]:
    """ERRSIG <keyid> <pkalgo> <hashalgo> <class> <time> <rc> [<fpr>]: rc 9 = no such key."""
    fingerprint = args[6] if len(args) > 6 and args[6] != "-" else _key(args)
    code = args[5] if len(args) > 5 else ""
    if code == _NO_PUBKEY:
        return Status.NO_KEY, fingerprint, f"signed by key {fingerprint}, which was not given"
    return Status.ERROR, fingerprint, f"gpg cannot check the signature (error code {code})"


class Keyring:
    """A temporary GnuPG home holding only the keys given (see the module docstring).

    Use as a context manager. Raises ``GpgUnavailable`` when gpg is not on PATH."""

    def __init__(self) -> None:
        binary = shutil.which("gpg") or shutil.which("gpg2")
        if binary is None:
            raise GpgUnavailable("gpg", "not installed: simple-signing signatures need it")
        self._gpg = binary
        self.home = Path(tempfile.mkdtemp(prefix="ocianalyze-gpg-"))  # mode 0700
        self.fingerprints: list[str] = []

    def __enter__(self) -> Keyring:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        shutil.rmtree(self.home, ignore_errors=True)

    def _env(self) -> dict[str, str]:
        # Only what gpg needs: no inherited GNUPGHOME, agent socket or locale of the user.
        return {"GNUPGHOME": str(self.home), "PATH": os.environ.get("PATH", ""), "LC_ALL": "C"}

    def _argv(self, *args: str) -> list[str]:
        status = str(self.home / "status")
        return [
            self._gpg,
            *("--homedir", str(self.home), "--batch", "--no-tty", "--no-autostart"),
            *("--no-auto-key-retrieve", "--trust-model", "always", "--status-file", status),
            *args,
        ]

    def _fresh_status(self) -> None:
        (self.home / "status").unlink(missing_ok=True)  # each run's lines, and only them

    def _status(self) -> list[str]:
        try:
            return (self.home / "status").read_text("utf-8", "replace").splitlines()
        except OSError:
            return []

    def add(self, path: str, data: bytes) -> list[str]:
        """Import the OpenPGP public key(s) of ``data`` (read from ``path``); their primary
        fingerprints. Raises ``Unreadable`` when gpg imports no key from it."""
        keyfile = self.home / "import.key"
        keyfile.write_bytes(data)
        code = self._run(self._argv("--import", str(keyfile)))
        imported = [
            line.split(" ")[3]
            for line in self._status()
            if line.startswith("[GNUPG:] IMPORT_OK ") and len(line.split(" ")) > 3
        ]
        if not imported:
            raise Unreadable(path, f"not an OpenPGP public key gpg can import (exit {code})")
        self.fingerprints += [f for f in imported if f not in self.fingerprints]
        return imported

    def verify(self, blob: bytes) -> Verdict:
        """Check one signed (not detached) OpenPGP message; its literal data comes back in
        ``Verdict.payload`` (at most ``MAX_PAYLOAD`` bytes: a larger one is ERROR)."""
        message = self.home / "message.gpg"
        message.write_bytes(blob)
        argv = self._argv("--output", "-", "--decrypt", str(message))
        payload, returncode = self._bounded(argv)
        if payload is None:
            return Verdict(Status.ERROR, None, b"", f"signed data over {MAX_PAYLOAD} bytes")
        status, key, detail = parse_status(self._status(), returncode)
        return Verdict(status, key, payload, detail)

    def _bounded(self, argv: list[str]) -> tuple[bytes | None, int]:
        """Run gpg reading at most ``MAX_PAYLOAD`` bytes of its output (a compressed packet
        may inflate without bound): the output and exit code, or None when it is larger."""
        self._fresh_status()
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=self._env(),
            )
        except OSError as exc:
            raise GpgUnavailable("gpg", f"cannot run ({exc.strerror or exc})") from None
        assert proc.stdout is not None
        with proc:
            data = proc.stdout.read(MAX_PAYLOAD + 1)
            if len(data) > MAX_PAYLOAD:
                proc.kill()
                proc.wait()
                return None, -1
            try:
                returncode = proc.wait(timeout=GPG_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise GpgUnavailable("gpg", f"no answer in {GPG_TIMEOUT:.0f} s") from None
        return data, returncode

    def _run(self, argv: list[str]) -> int:
        self._fresh_status()
        try:
            proc = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=GPG_TIMEOUT,
                check=False,
                env=self._env(),
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise GpgUnavailable("gpg", f"cannot run ({exc})") from None
        return proc.returncode
