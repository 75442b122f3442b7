"""Two workers — each with its own database pool and its own Redis budget client, as two processes
on two machines would have — share one PostgreSQL queue and one CleverTap budget: every task is
done exactly once and together they never exceed CleverTap's limits."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator

import httpx
import pytest

from rightly.app.runtime import open_runtime
from rightly.emulator import EmulatorState, create_emulator_app
from rightly.engine.worker import WorkerOptions
from rightly.http.redis_budget import RedisBudget
from rightly.services import connections as conns
from rightly.services import requests as reqs
from rightly.settings import Settings
from tests.conftest import PASSCODE, PROJECT, REGION, drop_schema
from tests.core.helpers import ACTOR

REQUESTS = 40


@pytest.fixture
def shared_settings(pg_url: str, redis_url: str, tmp_path) -> Iterator[Settings]:  # type: ignore[no-untyped-def]
    schema = f"rt_{uuid.uuid4().hex[:12]}"
    yield Settings(
        home=tmp_path / "home",
        database_url=pg_url,
        database_schema=schema,
        redis_url=redis_url,
        secret_key="shared-key",
        deletion_batch_window=0.0,
    )
    drop_schema(pg_url, schema)


async def test_two_workers_share_the_queue_and_the_budget(shared_settings: Settings, redis_url: str) -> None:
    state = EmulatorState(seed=3)  # real time: the Redis budget decides on Redis's clock
    acct = state.add_account(PROJECT, PASSCODE, REGION, max_in_flight=3, rate=20)
    acct.faults.latency_ms = (15.0, 25.0)
    for i in range(REQUESTS):
        acct.add_profile(identity=f"u{i}", email=f"s{i}@example.com")
    prefix = f"rightly-test:{uuid.uuid4().hex}:"
    transport = httpx.ASGITransport(app=create_emulator_app(state))
    budgets = [RedisBudget(redis_url, prefix=prefix) for _ in range(2)]
    async with (
        httpx.AsyncClient(transport=transport) as http,
        open_runtime(shared_settings, http=http, budget=budgets[0]) as one,
        open_runtime(shared_settings, http=http, budget=budgets[1]) as two,
        contextlib.AsyncExitStack() as stack,
    ):
        for budget in budgets:
            stack.push_async_callback(budget.aclose)
        async with one.db.session() as s:
            data = conns.ConnectionInput.model_validate(
                {
                    "name": "ct",
                    "project_id": PROJECT,
                    "passcode": PASSCODE,
                    "region": REGION,
                    "max_in_flight": 3,
                    "rate": 20,
                }
            )
            await conns.connect(s, one, ACTOR, data)
            ids = [
                (await reqs.submit(s, one, ACTOR, "access", f"s{i}@example.com", f"u{i}"))[0].id
                for i in range(REQUESTS)
            ]
        before = state.stats.calls[(PROJECT, "profile")]
        # A short lease horizon: each worker leases only what the budget serves in a quarter second,
        # so both get work (a long one lets the first worker lease everything).
        workers = [rt.worker(WorkerOptions(idle_poll=0.05, lease_horizon=0.25)) for rt in (one, two)]
        await asyncio.wait_for(asyncio.gather(*(w.run(until_done=True) for w in workers)), timeout=60)
        async with two.db.session() as s:
            statuses = [(await reqs.get_request(s, rid)).status for rid in ids]
    assert statuses == ["complete"] * REQUESTS
    assert all(w.stats.tasks > 0 for w in workers), [w.stats.tasks for w in workers]  # both took work
    assert sum(w.stats.tasks for w in workers) == REQUESTS  # ... and no task twice
    assert state.stats.calls[(PROJECT, "profile")] - before == 2 * REQUESTS
    assert sum(state.stats.throttled.values()) == 0  # neither the in-flight nor the rate limit was hit
    assert state.stats.peak_in_flight[PROJECT] <= 3
