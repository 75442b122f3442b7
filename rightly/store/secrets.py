"""Secrets at rest (CleverTap's passcode, and any other vendor secret): Fernet (AES-128-CBC + HMAC)
under the install's key, from ``RIGHTLY_SECRET_KEY`` or a 0600 key file in ``$RIGHTLY_HOME``.

The key:
* a key of the right form (a Fernet key: 32 random bytes, URL-safe base64, as
  ``rightly secrets generate-key`` prints it, or the key file) is used as it is;
* any other string is a passphrase: stretched with scrypt (N=2^15, r=8, p=1; ~32 MiB, a fraction of
  a second once per process) under a random salt this install keeps in its database
  (``rightly_meta``), so a guessed passphrase costs an attacker as much per guess, per install.

Decryption also accepts ``RIGHTLY_PREVIOUS_SECRET_KEY`` (while rotating), a key file being rotated
to (``secret.key.next``, left by an interrupted rotation), and, for a passphrase, the key earlier
versions derived from it by one unsalted SHA-256 (so existing installs keep working until
``rightly secrets rotate`` re-encrypts their secrets under the scrypt key). Encryption always uses
the primary key (cryptography's ``MultiFernet``).

In key-file mode, a secret that no loaded key opens makes ``Secrets`` read the key files again
once: a running ``rightly serve`` follows a ``rightly secrets rotate`` made by another process.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from rightly.store.private import make_private_dir

log = logging.getLogger(__name__)

KEY_FILE = "secret.key"
NEXT_KEY_FILE = "secret.key.next"  # written before a rotation commits, renamed to KEY_FILE after
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1


class SecretError(RuntimeError):
    pass


def is_key(value: str) -> bool:
    """True when ``value`` is a key of the right form: a Fernet key (32 bytes, URL-safe base64)."""
    try:
        return len(value) == 44 and len(base64.urlsafe_b64decode(value.encode("ascii"))) == 32
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return False


def generate_key() -> str:
    return Fernet.generate_key().decode()


def derive_key(passphrase: str, salt: bytes) -> bytes:
    """The Fernet key scrypt derives from a passphrase and the install's salt (CPU: run off the loop)."""
    raw = Scrypt(salt=salt, length=32, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P).derive(passphrase.encode())
    return base64.urlsafe_b64encode(raw)


def legacy_key(passphrase: str) -> bytes:
    """What Rightly before 0009 derived from RIGHTLY_SECRET_KEY (one unsalted SHA-256): decrypt only."""
    return base64.urlsafe_b64encode(hashlib.sha256(passphrase.encode()).digest())


def key_of(value: str, salt: bytes) -> bytes:
    """The Fernet key for a configured value: itself when of the right form, else scrypt's."""
    return value.encode() if is_key(value) else derive_key(value, salt)


def read_key_files(home: Path, create: bool = True) -> list[bytes]:
    """The key file's key (created, 0600, when missing and ``create``), then a rotation's next key."""
    path = home / KEY_FILE
    if not path.exists() and create:
        make_private_dir(home)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(Fernet.generate_key())
    keys = [path.read_bytes().strip()] if path.exists() else []
    nxt = home / NEXT_KEY_FILE
    if nxt.exists():
        keys.append(nxt.read_bytes().strip())
    return keys


def write_next_key(home: Path, key: bytes) -> Path:
    """Step one of a key-file rotation: the new key beside the old (0600), before any secret uses it."""
    make_private_dir(home)
    path = home / NEXT_KEY_FILE
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
        fh.flush()
        os.fsync(fh.fileno())
    return path


def promote_next_key(home: Path) -> None:
    """Step three, once every secret is encrypted under the next key: it becomes the key file."""
    os.replace(home / NEXT_KEY_FILE, home / KEY_FILE)


class Secrets:
    """Encrypts under ``keys[0]``; decrypts under any of ``keys`` (see the module docstring)."""

    def __init__(self, keys: list[bytes], reload: Callable[[], list[bytes]] | None = None) -> None:
        if not keys:
            raise SecretError("no encryption key")
        self._stable_mac: bytes | None = None
        self._set(keys)
        self._reload = reload

    def _set(self, keys: list[bytes]) -> None:
        self.keys = list(dict.fromkeys(keys))
        self._fernet = MultiFernet([Fernet(k) for k in self.keys])
        # Keyed hashes use the install's own MAC key (``use_mac_key``: random, kept encrypted in the
        # database, so rotating the encryption key keeps every hash and the audit chains' seals);
        # until that is loaded, one derived from the key, which never reveals it.
        self._mac_key = (
            self._stable_mac or hmac.new(self.keys[0], b"rightly keyed-hash v1", hashlib.sha256).digest()
        )

    def use_mac_key(self, key: bytes) -> None:
        """Hash with ``key`` from now on (the install's MAC key, kept in ``rightly_meta``)."""
        self._stable_mac = self._mac_key = key

    @classmethod
    def load(
        cls,
        home: Path,
        env_key: str | None,
        *,
        salt: bytes = b"",
        previous: str | None = None,
    ) -> Secrets:
        """The install's secrets: from ``env_key`` (and ``previous``), or the key file (created 0600
        when missing). Blocking (scrypt, file reads): async code calls it in a thread."""
        if env_key:
            keys = [key_of(env_key, salt)]
            if previous:
                keys.append(key_of(previous, salt))
            keys += [legacy_key(v) for v in (env_key, previous) if v and not is_key(v)]
            return cls(keys)
        keys = read_key_files(home)
        if previous:
            keys.append(key_of(previous, salt))
        return cls(keys, reload=lambda: read_key_files(home, create=False))

    def keyed_hash(self, purpose: str, value: str) -> str:
        """A stable HMAC-SHA256 of ``value`` for ``purpose`` (hex): lets Rightly recognise a value
        again (an email that asked before, a client address) without storing it."""
        return hmac.new(self._mac_key, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()

    def encrypt(self, plain: str) -> bytes:
        return self._fernet.encrypt(plain.encode())

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken:
            if self._reload is not None and self._reloaded():
                return self.decrypt(token)
            raise SecretError(
                "a stored secret cannot be decrypted with this key (RIGHTLY_SECRET_KEY or "
                "$RIGHTLY_HOME/secret.key changed?); reconnect the connection with its secret, or set "
                "RIGHTLY_PREVIOUS_SECRET_KEY to the old key"
            ) from None

    def _reloaded(self) -> bool:
        """Read the key files again (another process rotated the key); True when they changed."""
        assert self._reload is not None
        try:
            fresh = self._reload()
        except OSError:
            return False
        if not fresh or fresh[0] == self.keys[0]:
            return False
        log.info("the key file changed (a rotation): using the new key")
        self._set(fresh + self.keys)
        return True

    def rotated(self, new_key: bytes) -> Secrets:
        """Secrets that encrypt under ``new_key`` and still decrypt under every key this one knows."""
        fresh = Secrets([new_key, *self.keys])
        if self._stable_mac is not None:
            fresh.use_mac_key(self._stable_mac)
        return fresh

    def is_primary(self, token: bytes) -> bool:
        """True when ``token`` opens under the primary key alone (nothing left to rotate)."""
        try:
            Fernet(self.keys[0]).decrypt(token)
            return True
        except InvalidToken:
            return False
