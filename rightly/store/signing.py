"""The instance's Ed25519 key that signs proofs of deletion.

From ``RIGHTLY_PROOF_SIGNING_KEY`` (a PEM "PRIVATE KEY", or the 32-byte private key in base64 or
hex: set the same on every machine of a scaled-out instance), or else the file
``$RIGHTLY_HOME/proof-signing.key`` (PKCS#8 PEM, mode 0600), created on first use.

Rotation: ``rotate`` writes a new key file and removes the old one (a key being retired may be a
compromised one); the old public key stays published (the ``proof_keys`` table, ``GET
/api/v1/proof-key``), so proofs it signed still verify. With the key in the environment, rotate by
setting a new value; the old public key is already recorded.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from rightly.store.private import make_private_dir

KEY_FILE = "proof-signing.key"


class SigningKeyError(RuntimeError):
    pass


def load(home: Path, env_value: str | None) -> Ed25519PrivateKey:
    """The signing key (creating the key file, 0600, when there is neither a file nor a variable)."""
    if env_value:
        return _parse(env_value.strip().encode(), "RIGHTLY_PROOF_SIGNING_KEY")
    path = home / KEY_FILE
    if not path.exists():
        _write(path, Ed25519PrivateKey.generate())
    return _parse(path.read_bytes(), str(path))


def rotate(home: Path, env_value: str | None) -> tuple[Ed25519PrivateKey, Ed25519PrivateKey]:
    """(old, new): a new key file replaces the old one."""
    if env_value:
        raise SigningKeyError(
            "the signing key comes from RIGHTLY_PROOF_SIGNING_KEY: rotate it by setting a new value there "
            "(e.g. openssl genpkey -algorithm ed25519)"
        )
    old = load(home, None)
    path = home / KEY_FILE
    fresh = Ed25519PrivateKey.generate()
    tmp = path.with_suffix(".new")
    tmp.unlink(missing_ok=True)
    _write(tmp, fresh)
    os.replace(tmp, path)
    return old, fresh


def _write(path: Path, key: Ed25519PrivateKey) -> None:
    make_private_dir(path.parent)
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)


def _parse(raw: bytes, where: str) -> Ed25519PrivateKey:
    if raw.startswith(b"-----BEGIN"):
        try:
            key = load_pem_private_key(raw, password=None)
        except (ValueError, TypeError) as exc:
            raise SigningKeyError(f"{where} is not a readable PEM private key: {exc}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningKeyError(f"{where} is not an Ed25519 key")
        return key
    seed: bytes | None = None
    text = raw.decode("ascii", "replace")
    if len(text) == 64:
        try:
            seed = bytes.fromhex(text)
        except ValueError:
            seed = None
    if seed is None:
        try:
            seed = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            seed = None
    if seed is None or len(seed) != 32:
        raise SigningKeyError(f"{where} must be a PEM private key, or 32 bytes in base64 or hex")
    return Ed25519PrivateKey.from_private_bytes(seed)
