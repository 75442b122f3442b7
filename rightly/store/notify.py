"""Waking idle workers in other processes: PostgreSQL's LISTEN/NOTIFY.

A service that queues work calls ``announce`` inside its transaction; PostgreSQL delivers the
notification when (and only if) that transaction commits. Each process with workers keeps one
``Listener`` connection and pokes its workers on every notification, so work submitted through one
process starts in another within a fraction of a second instead of at the next idle poll. SQLite
runs one worker process (the one that queued the work pokes its own workers), so there it is a no-op.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger(__name__)


def channel(schema: str | None) -> str:
    """One channel per database schema, so two Rightly instances sharing a server stay apart."""
    return f"rightly_work_{schema or 'public'}"


async def announce(session: AsyncSession, schema: str | None) -> None:
    if session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_notify(:c, '')"), {"c": channel(schema)})


class Listener:
    """One LISTEN connection; ``wake`` runs on every notification (on the event loop)."""

    def __init__(self, url: str, schema: str | None, wake: Callable[[], None]) -> None:
        self.dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
        self.channel = channel(schema)
        self.wake = wake
        self._conn: Any = None

    async def start(self) -> None:
        if self._conn is not None:
            return
        try:
            self._conn = await asyncpg.connect(self.dsn, timeout=10)
            await self._conn.add_listener(self.channel, self._notified)
        except (OSError, asyncpg.PostgresError) as exc:
            # Not fatal: workers still poll for new work once a second.
            log.warning("cannot LISTEN for new work (%s); idle workers poll instead", type(exc).__name__)
            await self.stop()

    def _notified(self, *_: Any) -> None:
        self.wake()

    async def stop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close(timeout=5)
