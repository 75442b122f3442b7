"""Passcodes at rest: Fernet (AES-128-CBC + HMAC) with a key from RIGHTLY_SECRET_KEY or a 0600 key file."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from rightly.store.private import make_private_dir

KEY_FILE = "secret.key"


class SecretError(RuntimeError):
    pass


class Secrets:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)
        # A separate key for keyed hashes, derived so that a hash never reveals the encryption key.
        self._mac_key = hmac.new(key, b"rightly keyed-hash v1", hashlib.sha256).digest()

    @classmethod
    def load(cls, home: Path, env_key: str | None) -> Secrets:
        """Use ``env_key`` (any string, stretched to a Fernet key) or the key file, creating it (0600)."""
        if env_key:
            return cls(base64.urlsafe_b64encode(hashlib.sha256(env_key.encode()).digest()))
        path = home / KEY_FILE
        if not path.exists():
            make_private_dir(home)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(Fernet.generate_key())
        return cls(path.read_bytes().strip())

    def keyed_hash(self, purpose: str, value: str) -> str:
        """A stable HMAC-SHA256 of ``value`` for ``purpose`` (hex): lets Rightly recognise a value
        again (an email that asked before, a client address) without storing it."""
        return hmac.new(self._mac_key, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()

    def encrypt(self, plain: str) -> bytes:
        return self._fernet.encrypt(plain.encode())

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken as exc:
            raise SecretError(
                "a stored passcode cannot be decrypted with this key (RIGHTLY_SECRET_KEY or "
                "$RIGHTLY_HOME/secret.key changed?); reconnect the connection with its passcode"
            ) from exc
