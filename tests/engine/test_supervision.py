"""The worker survives its database failing for a while, and `rightly serve` keeps its in-process
worker running: a round that fails is logged, shown and backed off, then the work goes on."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import asyncpg
import pytest

from rightly.engine.supervisor import Supervisor
from rightly.engine.worker import Worker, WorkerOptions
from rightly.services.runtime import Runtime
from tests.core.helpers import connect, submit, view
from tests.sqlite_lock import write_lock


@asynccontextmanager
async def database_away(rt: Runtime) -> AsyncIterator[Callable[[], None]]:
    """The worker's database fails every statement until ``back()`` is called: SQLite's write lock
    held by another process; on PostgreSQL the worker's schema moved away."""
    if rt.db.is_sqlite:
        with write_lock(rt.settings.home / "rightly.db", 60) as holder:
            yield holder.kill
        return
    schema = rt.db.schema
    assert schema is not None
    admin = await asyncpg.connect(rt.db.url.replace("postgresql+asyncpg", "postgresql"))
    await admin.execute(f'ALTER SCHEMA "{schema}" RENAME TO "{schema}_away"')
    restored = False

    def back() -> None:
        nonlocal restored
        restored = True

    try:
        yield back
        while not restored:
            await asyncio.sleep(0.05)
    finally:
        await admin.execute(f'ALTER SCHEMA "{schema}_away" RENAME TO "{schema}"')
        await admin.close()


async def until(predicate: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_a_worker_rides_out_a_database_failure_and_goes_on(runtime: Runtime) -> None:
    await connect(runtime)
    rid = await submit(runtime, "access", "ada@example.com")
    w = runtime.worker(WorkerOptions(idle_poll=0.05, max_backoff=0.5))
    stop = asyncio.Event()
    async with database_away(runtime) as back:
        job = asyncio.create_task(w.run(stop, until_done=True))
        await until(lambda: w.health.failures >= 2, 30)  # failing, backing off, not dead
        assert not job.done() and w.health.last_error
        back()
    await asyncio.wait_for(job, 60)  # the database is back: the request completes
    assert (await view(runtime, rid))["status"] == "complete"
    assert w.health.failures == 0 and w.health.last_error is None


class Crashing(Worker):
    """A worker whose loop ends with a bug."""

    async def run(self, stop: asyncio.Event | None = None, until_done: bool = False) -> None:
        raise RuntimeError("a bug that escaped the round supervision")


async def test_the_in_process_worker_is_started_again_if_it_ends(runtime: Runtime) -> None:
    made: list[Worker] = []

    def make() -> Worker:
        w = runtime.worker(WorkerOptions(idle_poll=0.05))
        if not made:  # the first one crashes; the next is a good worker
            w.__class__ = Crashing
        made.append(w)
        return w

    await connect(runtime)
    rid = await submit(runtime, "access", "ada@example.com")
    supervisor = Supervisor(make, max_pause=0.5)
    supervisor.start()
    try:
        await until(lambda: supervisor.state.restarts == 1 and supervisor.state.running, 10)
        assert "a bug that escaped" in (supervisor.state.last_exit or "")
        for _ in range(200):
            if (await view(runtime, rid))["status"] == "complete":
                break
            await asyncio.sleep(0.05)
        assert (await view(runtime, rid))["status"] == "complete"
        assert supervisor.healthy and supervisor.view()["restarts"] == 1
    finally:
        await supervisor.stop()


async def test_work_queued_by_another_process_wakes_an_idle_worker_at_once(
    pg_runtime_pair: tuple[Runtime, Runtime],
) -> None:
    """Two runtimes on one PostgreSQL (as two processes would be): a request submitted through the
    first starts in the second's idle worker well before its next poll."""
    one, two = pg_runtime_pair
    await connect(one)
    w = two.worker(WorkerOptions(idle_poll=30.0))  # without a wake-up it would sleep 30 s
    stop = asyncio.Event()
    job = asyncio.create_task(w.run(stop))
    try:
        await until(lambda: two.listener is not None, 10)
        await asyncio.sleep(0.3)  # idle now
        started = time.monotonic()
        rid = await submit(one, "access", "ada@example.com")
        for _ in range(100):
            if (await view(one, rid))["status"] == "complete":
                break
            await asyncio.sleep(0.05)
        assert (await view(one, rid))["status"] == "complete"
        assert time.monotonic() - started < 5  # nowhere near the 30 s poll
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await job


@pytest.fixture
async def pg_runtime_pair(pg_url: str, tmp_path: object) -> AsyncIterator[tuple[Runtime, Runtime]]:
    import uuid
    from pathlib import Path

    import httpx

    from rightly.app.runtime import open_runtime
    from rightly.domain.clock import SystemClock
    from rightly.emulator import create_emulator_app
    from rightly.settings import Settings
    from tests.conftest import sample_emulator

    schema = f"rt_{uuid.uuid4().hex[:12]}"
    settings = Settings(
        home=Path(str(tmp_path)) / "home",
        database_url=pg_url,
        database_schema=schema,
        secret_key="test-key",
        deletion_batch_window=0.0,
    )
    state = sample_emulator(SystemClock())
    opener: Callable[..., AbstractAsyncContextManager[Runtime]] = open_runtime
    try:
        async with (
            httpx.AsyncClient(transport=httpx.ASGITransport(app=create_emulator_app(state))) as http,
            opener(settings, http=http) as one,
            opener(settings, http=http) as two,
        ):
            yield one, two
    finally:
        admin = await asyncpg.connect(pg_url)
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()
