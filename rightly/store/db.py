"""The database: engine, sessions and migrations applied on first use.

SQLite goes through SQLAlchemy's ``sqlite+aiosqlite`` dialect: each connection runs in a thread
of its own, so a statement waiting for another process's write lock holds up only the session
that issued it, never the event loop (the API, the web UI and the in-process worker go on).
That wait is bounded by ``SQLITE_BUSY_TIMEOUT``; past it the statement fails with "database is
locked", which the faces report as ``DATABASE_BUSY`` (see ``is_busy``).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from rightly.store.chain import SEALER, Sealer
from rightly.store.private import create_private_file, make_private_dir

MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATION_LOCK = 0x5249_4748  # "RIGH": one migrator at a time on PostgreSQL

# Rightly's own write transactions last milliseconds, so a lock held longer than this belongs to
# something else (a long transaction in another process, a backup): the one request waiting on it
# fails clearly rather than hanging for as long as the lock is held.
SQLITE_BUSY_TIMEOUT = 5.0
DATABASE_BUSY = "the database is busy (another process holds a write lock); try again"


def is_busy(exc: BaseException) -> bool:
    """True when ``exc`` (SQLAlchemy's wrapper or sqlite3's own error) is SQLite's "database is
    locked": another connection held the write lock longer than ``SQLITE_BUSY_TIMEOUT``."""
    orig = getattr(exc, "orig", exc)
    code = getattr(orig, "sqlite_errorcode", None)
    # The low byte is the primary code: SQLITE_BUSY and its extended forms (BUSY_SNAPSHOT, ...).
    return (
        isinstance(orig, sqlite3.OperationalError) and code is not None and code & 0xFF == sqlite3.SQLITE_BUSY
    )


class Database:
    """An async engine and its session factory. ``await db.migrate()`` brings the schema up to date."""

    def __init__(self, url: str, schema: str | None = None) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            path = url.split(":///", 1)[1] if ":///" in url else ""
            if path and path != ":memory:":
                make_private_dir(Path(path).parent)
                create_private_file(Path(path))
            # SQLAlchemy pools file databases with AsyncAdaptedQueuePool (5 + 10 overflow): the
            # worker and the API share this engine, each session on a connection of its own.
        else:
            kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
            if schema:  # a schema of Rightly's own inside a shared database
                kwargs["connect_args"] = {"server_settings": {"search_path": schema}}
        self.schema = schema
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            # aiosqlite logs every statement with its parameters at DEBUG (subjects' emails, what
            # vendors answered): keep it out of Rightly's log unless someone asked for it on purpose.
            library_log = logging.getLogger("aiosqlite")
            if library_log.level == logging.NOTSET:
                library_log.setLevel(logging.WARNING)
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    def use_sealer(self, sealer: Sealer) -> None:
        """Sessions opened from now on seal the audit and evidence rows they write (``store.chain``)."""
        self.sessions.configure(info={SEALER: sealer})

    async def migrate(self, target: str = "head") -> None:
        """Bring the schema to ``target`` (the newest by default; tests upgrade from older ones)."""
        async with self.engine.begin() as conn:
            if not self.is_sqlite:
                await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
                if self.schema:
                    await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
            await conn.run_sync(_upgrade, target)

    async def is_current(self) -> bool:
        """True when the schema is at the newest migration (for readiness checks)."""
        async with self.engine.connect() as conn:
            current = await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_heads())
        head = ScriptDirectory.from_config(_alembic_config()).get_heads()
        return set(current) == set(head)

    async def dispose(self) -> None:
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT * 1000)}")  # first: the others may wait too
    cur.execute("PRAGMA journal_mode=WAL")
    # WAL with NORMAL sync: no fsync per commit; a power cut can lose the last few commits (a step
    # then runs again under a new lease: lookups and deletions are safe to repeat), never corrupt.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def _upgrade(sync_conn: Any, target: str) -> None:
    cfg = _alembic_config()
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, target)
