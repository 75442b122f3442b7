"""Counting attempts against a limit: sign-ins, public submissions. ``count`` says how many times a
(scope, key) happened within a window; ``hit`` records one more. Keys (a client address, an email)
are stored only as keyed hashes. The database holds the counts, so every process of a scaled-out
Rightly shares them; a recurring sweep (``prune``) drops what no window can still see.

Written by hand: limits, slowapi and fastapi-limiter count per process or need Redis, and the
embedded mode has neither a shared process nor Redis; this is a counter in the database it already has.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from rightly.store.models import ThrottleHit
from rightly.store.secrets import Secrets

KEEP_SECONDS = 2 * 86400.0  # the longest window any limit uses


@dataclass(frozen=True)
class Limit:
    """At most ``times`` within ``window`` seconds."""

    scope: str
    times: int
    window: float


class Throttle:
    def __init__(self, secrets: Secrets) -> None:
        self.secrets = secrets

    def _hash(self, scope: str, key: str) -> str:
        return self.secrets.keyed_hash(f"throttle:{scope}", key.strip().lower())

    async def count(self, session: AsyncSession, limit: Limit, key: str, now: float) -> int:
        query = select(func.count()).where(
            ThrottleHit.scope == limit.scope,
            ThrottleHit.key_hash == self._hash(limit.scope, key),
            ThrottleHit.at > now - limit.window,
        )
        return int((await session.execute(query)).scalar() or 0)

    async def exceeded(self, session: AsyncSession, limit: Limit, key: str, now: float) -> bool:
        return await self.count(session, limit, key, now) >= limit.times

    async def retry_after(self, session: AsyncSession, limit: Limit, key: str, now: float) -> float:
        """Seconds until the key is below its limit again (0 when it is already)."""
        query = (
            select(ThrottleHit.at)
            .where(
                ThrottleHit.scope == limit.scope,
                ThrottleHit.key_hash == self._hash(limit.scope, key),
                ThrottleHit.at > now - limit.window,
            )
            .order_by(ThrottleHit.at.desc())
            .offset(limit.times - 1)
            .limit(1)
        )
        at = (await session.execute(query)).scalar()
        return 0.0 if at is None else max(0.0, float(at) + limit.window - now)

    async def hit(self, session: AsyncSession, scope: str, key: str, now: float) -> None:
        """Count one attempt, in the caller's transaction."""
        await session.execute(
            insert(ThrottleHit).values(scope=scope, key_hash=self._hash(scope, key), at=now)
        )

    async def forget(self, session: AsyncSession, scope: str, key: str) -> None:
        """Clear a key's count (e.g. a successful sign-in ends the failures before it)."""
        await session.execute(
            delete(ThrottleHit).where(
                ThrottleHit.scope == scope, ThrottleHit.key_hash == self._hash(scope, key)
            )
        )


async def prune(session: AsyncSession, now: float) -> int:
    result = await session.execute(delete(ThrottleHit).where(ThrottleHit.at < now - KEEP_SECONDS))
    return int(getattr(result, "rowcount", 0) or 0)
