"""Party keys at rest: sealed under a platform secret that is kept outside the database.

The platform needs each party's key itself, not a hash of it: it checks an HMAC signature with it
and signs its replies with it. So it keeps the key sealed with AES-256-GCM (NIST SP 800-38D) under
a 256-bit secret of its own, with a fresh 96-bit nonce for every seal and the party id as associated
data (a sealed key copied into another party's row does not open). The secret lives in a file of
its own (one line of 64 hex digits, mode 0600), apart from the database: a read of the database, of
a dump or of a backup yields no key; the secret file and the database together do.
(docs/platform-api.md, "Keys at rest".)
"""

from __future__ import annotations

import base64
import errno
import hmac
import os
import secrets
import stat
import tempfile
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "SEALED_PREFIX",
    "KeySeal",
    "SecretProblem",
    "create_secret_file",
    "is_sealed",
    "made_or_read",
    "read_secret_file",
]

SEALED_PREFIX = "aes256gcm:"
_SECRET_BYTES = 32
_NONCE_BYTES = 12
_AAD = b"fillfloor party key\n"


class SecretProblem(ValueError):
    """The platform secret is missing, malformed, exposed, or not the one that sealed the keys."""


def is_sealed(value: str) -> bool:
    return value.startswith(SEALED_PREFIX)


class KeySeal:
    """Seals and opens party keys under one platform secret (32 bytes)."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) != _SECRET_BYTES:
            raise SecretProblem(f"the platform secret must be {_SECRET_BYTES} bytes, not {len(secret)}")
        self._aead = AESGCM(secret)
        self._secret = secret

    def same_secret(self, other: KeySeal) -> bool:
        return hmac.compare_digest(self._secret, other._secret)

    @classmethod
    def generate(cls) -> KeySeal:
        """A seal under a new random secret (held in memory only: a scenario's own platform)."""
        return cls(secrets.token_bytes(_SECRET_BYTES))

    def seal(self, party_id: str, key: str) -> str:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, key.encode("utf-8"), _aad(party_id))
        return SEALED_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, party_id: str, sealed: str) -> str:
        """The key `seal(party_id, key)` sealed; `SecretProblem` if this secret did not seal it for
        this party (or the value was changed)."""
        if not is_sealed(sealed):
            raise SecretProblem(f"the key of party {party_id!r} is not sealed")
        try:
            blob = base64.urlsafe_b64decode(sealed[len(SEALED_PREFIX) :].encode("ascii"))
            plain = self._aead.decrypt(
                blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], _AAD + party_id.encode("utf-8")
            )
        except (InvalidTag, ValueError):
            raise SecretProblem(
                f"the platform secret does not open the key of party {party_id!r}"
                " (another platform's secret file, or the database's row was changed)"
            ) from None
        return plain.decode("utf-8")


def _aad(party_id: str) -> bytes:
    return _AAD + party_id.encode("utf-8")


def read_secret_file(path: Path) -> KeySeal:
    """The seal of the secret in `path`: one line of 64 hex digits, readable by its owner only."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise SecretProblem(f"no platform secret at {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretProblem(f"cannot read the platform secret {path}: {exc}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretProblem(
            f"the platform secret {path} is open to others (mode {stat.S_IMODE(mode):04o}): chmod 600 {path}"
        )
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        secret = b""
    if len(secret) != _SECRET_BYTES:
        raise SecretProblem(f"the platform secret {path} must be one line of {2 * _SECRET_BYTES} hex digits")
    return KeySeal(secret)


def create_secret_file(path: Path) -> KeySeal:
    """A new random secret written to `path` (0600; a missing directory is made 0700). The file
    appears whole or not at all, and never over an existing one: `FileExistsError` when another
    command made it first (read that one), `OSError` when it cannot be made."""
    secret = secrets.token_bytes(_SECRET_BYTES)
    text = secret.hex() + "\n"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Written aside and linked into place: a command racing this one reads a whole secret or none.
    fd, aside = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # (mode 0600)
    try:
        _write(fd, text)
        try:
            os.link(aside, path)
        except FileExistsError:
            raise
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
                raise
            # A file system without hard links (some network mounts): made in place instead, and
            # taken away again if it could not be written whole (a part would be refused for ever).
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                _write(fd, text)
            except BaseException:
                path.unlink()
                raise
    finally:
        os.unlink(aside)
    _sync_directory(path.parent)  # (the secret seals keys a database commits: it must outlive a power cut)
    return KeySeal(secret)


def _write(fd: int, text: str) -> None:
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def made_or_read(path: Path) -> KeySeal:
    """The secret in `path`, made there if there is none yet (also by another command a moment
    ago); `SecretProblem` if it can be neither made nor read."""
    try:
        return create_secret_file(path)
    except OSError as exc:
        if isinstance(exc, FileExistsError) and path.is_file():
            return read_secret_file(path)
        raise SecretProblem(f"cannot make the platform secret {path}: {exc.strerror or exc}") from None
