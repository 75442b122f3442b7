"""Facts about this install kept in its database (``rightly_meta``): the salt a secret-key
passphrase is stretched with. Written once, by migration 0009."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


async def kdf_salt(session: AsyncSession) -> bytes:
    row = (await session.execute(text("SELECT value FROM rightly_meta WHERE key = 'kdf_salt'"))).first()
    if row is None:
        raise RuntimeError("the database has no key-derivation salt: its migrations did not run")
    return bytes.fromhex(row[0])
