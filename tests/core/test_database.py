"""The embedded database: SQLite through aiosqlite, off the event loop, and kept private."""

from __future__ import annotations

import asyncio
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.pool import AsyncAdaptedQueuePool

from rightly.app.runtime import open_runtime
from rightly.domain.clock import FakeClock
from rightly.services import audit
from rightly.services.audit import Actor
from rightly.services.runtime import Runtime
from rightly.settings import Settings
from rightly.store.auth_models import AuditEntry
from tests.sqlite_lock import write_lock


async def _write(rt: Runtime, n: int) -> None:
    async with rt.db.session() as s:
        audit.record(s, Actor.cli(), "user.create", f"user:u{n}@example.com", rt.clock.now())
        await s.commit()


async def _count(rt: Runtime) -> int:
    async with rt.db.session() as s:
        return int((await s.execute(select(func.count()).select_from(AuditEntry))).scalar() or 0)


async def test_concurrent_sessions_share_a_pooled_engine(sqlite_settings: Settings) -> None:
    async with open_runtime(sqlite_settings, clock=FakeClock()) as rt:
        assert isinstance(rt.db.engine.pool, AsyncAdaptedQueuePool)  # a connection per session
        await asyncio.gather(*(_write(rt, n) for n in range(20)), *(_count(rt) for _ in range(20)))
        assert await _count(rt) == 20


async def test_a_session_waiting_for_a_lock_holds_up_only_itself(sqlite_settings: Settings) -> None:
    async with open_runtime(sqlite_settings, clock=FakeClock()) as rt:
        with write_lock(sqlite_settings.home / "rightly.db", 1.5):
            started = time.monotonic()
            blocked = asyncio.create_task(_write(rt, 0))
            await asyncio.sleep(0.2)
            # Meanwhile other sessions read (WAL: readers pass a writer) and the loop turns.
            counts = await asyncio.gather(*(_count(rt) for _ in range(10)))
            assert counts == [0] * 10 and not blocked.done()
            assert time.monotonic() - started < 1.0
            await blocked  # once the other process lets go
            assert time.monotonic() - started > 1.2
        assert await _count(rt) == 1


@pytest.fixture
def open_umask() -> Iterator[None]:
    """No umask: whatever Rightly does not restrict itself ends up readable (and writable) by all."""
    before = os.umask(0)
    yield
    os.umask(before)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_rightly_creates_its_home_and_database_private(tmp_path: Path, open_umask: None) -> None:
    home = tmp_path / "fresh" / "home"
    async with open_runtime(Settings(home=home), clock=FakeClock()) as rt:  # the key file as well
        await _write(rt, 1)
        files = {p.name: _mode(p) for p in home.iterdir()}
    assert _mode(home) == 0o700
    assert files == {n: 0o600 for n in ("rightly.db", "rightly.db-wal", "rightly.db-shm", "secret.key")}


async def test_an_existing_home_keeps_its_mode(tmp_path: Path, open_umask: None) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o750)
    async with open_runtime(Settings(home=home, secret_key="k"), clock=FakeClock()) as rt:
        await _write(rt, 1)
    assert _mode(home) == 0o750 and _mode(home / "rightly.db") == 0o600
