"""Facts about this install kept in its database (``rightly_meta``): the salt a secret-key
passphrase is stretched with (written once, by migration 0009), and the install's MAC key for keyed
hashes and the audit chains (random, made on first use, kept encrypted under the secret key, so
``rightly secrets rotate`` re-encrypts it and every hash and seal stays valid)."""

from __future__ import annotations

import secrets as random

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from rightly.store.secrets import SecretError, Secrets

MAC_KEY = "mac_key"


async def kdf_salt(session: AsyncSession) -> bytes:
    row = (await session.execute(text("SELECT value FROM rightly_meta WHERE key = 'kdf_salt'"))).first()
    if row is None:
        raise RuntimeError("the database has no key-derivation salt: its migrations did not run")
    return bytes.fromhex(row[0])


async def mac_key(session: AsyncSession, secrets: Secrets) -> bytes:
    """The install's MAC key, made and stored (encrypted) the first time any process asks; the
    caller commits."""
    found = (
        await session.execute(text("SELECT value FROM rightly_meta WHERE key = :k"), {"k": MAC_KEY})
    ).first()
    if found is not None:
        try:
            return bytes.fromhex(secrets.decrypt(found[0].encode()))
        except SecretError:
            raise SecretError(
                "this install's data was encrypted under another secret key: set "
                "RIGHTLY_PREVIOUS_SECRET_KEY to the key it ran with (then run `rightly secrets rotate`), "
                "or restore $RIGHTLY_HOME/secret.key"
            ) from None
    key = random.token_bytes(32)
    try:
        async with session.begin_nested():
            await session.execute(
                text("INSERT INTO rightly_meta (key, value) VALUES (:k, :v)"),
                {"k": MAC_KEY, "v": secrets.encrypt(key.hex()).decode()},
            )
    except IntegrityError:  # another process made it first: use theirs
        return await mac_key(session, secrets)
    return key


async def reencrypt_mac_key(session: AsyncSession, current: Secrets, target: Secrets) -> int:
    """``rightly secrets rotate``: the MAC key under the new secret key (1 if there was one)."""
    found = (
        await session.execute(text("SELECT value FROM rightly_meta WHERE key = :k"), {"k": MAC_KEY})
    ).first()
    if found is None:
        return 0
    plain = current.decrypt(found[0].encode())
    await session.execute(
        text("UPDATE rightly_meta SET value = :v WHERE key = :k"),
        {"k": MAC_KEY, "v": target.encrypt(plain).decode()},
    )
    return 1
