"""Shared fixtures: a clock, the CleverTap emulator, and Rightly's runtime on SQLite or PostgreSQL.

PostgreSQL and Redis tests run whenever they are reachable; elsewhere they skip with the reason,
except under CI=true, where an unreachable service fails the run.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
import redis

from rightly.app.runtime import open_runtime
from rightly.domain.clock import Clock, FakeClock
from rightly.emulator import EmulatorState, create_emulator_app
from rightly.services.runtime import Runtime
from rightly.settings import Settings

PG_URL = os.environ.get("RIGHTLY_TEST_PG_URL", "postgresql://127.0.0.1:5432/test")
REDIS_URL = os.environ.get("RIGHTLY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PROJECT, PASSCODE, REGION = "TEST-ACC-1", "pc-correct-horse", "us1"
# A key of the right form (as `rightly secrets generate-key` prints): used as it is, no scrypt per test.
TEST_KEY = "5_mXEJ8jM0Q7hF3t5yq3l8S0v2Qm1zK7dWcT9rB4pYc="


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_url() -> str:
    async def ping() -> None:
        conn = await asyncpg.connect(PG_URL.replace("postgresql+asyncpg", "postgresql"), timeout=3)
        await conn.close()

    try:
        asyncio.run(ping())
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        unavailable(f"PostgreSQL not reachable at {PG_URL} (set RIGHTLY_TEST_PG_URL): {exc}")
    return PG_URL


@pytest.fixture(scope="session")
def redis_url() -> str:
    try:
        with redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1) as client:
            client.ping()
    except redis.RedisError as exc:
        unavailable(f"Redis not reachable at {REDIS_URL} (set RIGHTLY_TEST_REDIS_URL): {exc}")
    return REDIS_URL


def drop_schema(url: str, schema: str) -> None:
    async def drop() -> None:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"), timeout=5)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()

    asyncio.run(drop())


@pytest.fixture(params=["sqlite", "postgres"])
def db_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings for a fresh database: SQLite in a temporary home, or a schema of its own in PostgreSQL."""
    home = tmp_path / "home"
    if request.param == "sqlite":
        yield Settings(home=home, secret_key=TEST_KEY, deletion_batch_window=0.0)
        return
    url = request.getfixturevalue("pg_url")
    schema = f"rt_{uuid.uuid4().hex[:12]}"
    yield Settings(
        home=home, database_url=url, database_schema=schema, secret_key=TEST_KEY, deletion_batch_window=0.0
    )
    drop_schema(url, schema)


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", secret_key=TEST_KEY, deletion_batch_window=0.0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emulator(clock: FakeClock) -> EmulatorState:
    """An emulator with one us1 project holding two profiles."""
    return sample_emulator(clock)


def sample_emulator(clock: Clock) -> EmulatorState:
    """One us1 project holding Ada (two devices, an event summary) and Grace."""
    state = EmulatorState(clock=clock, seed=1)
    acct = state.add_account(PROJECT, PASSCODE, REGION)
    acct.add_profile(
        identity="user-42",
        email="ada@example.com",
        profile_data={"Name": "Ada Lovelace", "Plan": "gold"},
        events={"App Launched": {"count": 12, "first_seen": 1_700_000_000, "last_seen": 1_760_000_000}},
        object_ids=["obj-ada-ios", "obj-ada-web"],
    )
    acct.add_profile(identity="user-7", email="grace@example.com", profile_data={"Name": "Grace"})
    return state


@pytest.fixture
async def emulator_http(emulator: EmulatorState) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_emulator_app(emulator))) as client:
        yield client


@pytest.fixture
async def runtime(
    db_settings: Settings, clock: FakeClock, emulator_http: httpx.AsyncClient
) -> AsyncIterator[Runtime]:
    async with open_runtime(db_settings, clock=clock, http=emulator_http) as rt:
        yield rt
