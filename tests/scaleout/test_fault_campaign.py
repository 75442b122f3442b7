"""The fault-and-crash campaign, kept as a test (issue 14): PostgreSQL + Redis, three `rightly worker`
processes, 200 mixed requests, the CleverTap emulator injecting every fault it has (5xx, hangs past
the timeout, truncated bodies, HTTP-200 failures, dropped connections, liar answers) while workers
are killed with SIGKILL at random and started again.

Afterwards nothing is lost (every request and its task are there), stuck (every request finished),
duplicated (one task per request, each profile found once) or falsely complete (every verified
deletion's profile is really gone from the emulator, every access found exactly what it holds), and
the emulator never saw more calls at once, or more in a second, than the account allows.
Sized for two shared cores: about a minute and a half.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from rightly.app.runtime import open_runtime
from rightly.emulator import EmulatorState, create_emulator_app
from rightly.emulator.faults import Faults
from rightly.emulator.server import serving
from rightly.services import connections as conns
from rightly.services import requests as reqs
from rightly.settings import Settings
from rightly.store.models import Request, Task
from tests.conftest import PASSCODE, REGION, TEST_KEY, drop_schema
from tests.core.helpers import ACTOR

ACCESS, GHOST_ACCESS, DELETIONS, GHOST_DELETIONS = 70, 30, 70, 30
MAX_IN_FLIGHT, RATE = 3, 25
KILLS = 6
DEADLINE = 420.0


@pytest.fixture
def campaign_settings(pg_url: str, redis_url: str, tmp_path: Path) -> Iterator[Settings]:
    schema = f"fc_{uuid.uuid4().hex[:12]}"
    yield Settings(
        home=tmp_path / "home",
        database_url=pg_url,
        database_schema=schema,
        redis_url=redis_url,
        secret_key=TEST_KEY,
        deletion_batch_window=0.2,
        allow_custom_base_urls=True,
        http_timeout=1.5,
        lease_seconds=5.0,
    )
    drop_schema(pg_url, schema)


def _env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIGHTLY_")}
    return env | {
        "RIGHTLY_HOME": str(settings.home),
        "RIGHTLY_DATABASE_URL": str(settings.database_url),
        "RIGHTLY_DATABASE_SCHEMA": str(settings.database_schema),
        "RIGHTLY_REDIS_URL": str(settings.redis_url),
        "RIGHTLY_SECRET_KEY": TEST_KEY,
        "RIGHTLY_HTTP_TIMEOUT": str(settings.http_timeout),
        "RIGHTLY_LEASE_SECONDS": str(settings.lease_seconds),
        "RIGHTLY_DELETION_BATCH_WINDOW": str(settings.deletion_batch_window),
    }


class Workers:
    """`rightly worker` processes, each logging to a file of its own."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.procs: list[subprocess.Popen[bytes]] = []
        self.started = 0

    def start(self) -> subprocess.Popen[bytes]:
        self.started += 1
        log = open(self.logs / f"worker-{self.started}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [sys.executable, "-m", "rightly", "worker", "-v"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        proc.kill()  # SIGKILL: no clean-up, leases and permits left behind
        proc.wait(10)
        self.procs.remove(proc)

    def stop_all(self) -> None:
        for proc in list(self.procs):
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


async def test_kill_9_and_every_fault_lose_nothing(campaign_settings: Settings, tmp_path: Path) -> None:
    project = f"FC-{uuid.uuid4().hex[:8]}"  # a budget key of its own in the shared Redis
    state = EmulatorState(seed=14)  # real time: the workers are other processes
    acct = state.add_account(
        project, PASSCODE, REGION, max_in_flight=MAX_IN_FLIGHT, rate=RATE + 5, deletion_delay=2.0
    )
    for i in range(ACCESS + DELETIONS):
        acct.add_profile(identity=f"u{i}", email=f"s{i}@example.com", profile_data={"n": i})
    rng = random.Random(14)
    async with serving(create_emulator_app(state)) as root, open_runtime(campaign_settings) as rt:
        async with rt.db.session() as s:
            data = conns.ConnectionInput.model_validate(
                {
                    "name": "ct",
                    "project_id": project,
                    "passcode": PASSCODE,
                    "region": REGION,
                    "api_base_url": f"{root}/{REGION}",
                    "max_in_flight": MAX_IN_FLIGHT,
                    "rate": RATE,
                    "verify_interval": 0.5,
                }
            )
            await conns.connect(s, rt, ACTOR, data)
        # Every fault the emulator has, about a fifth of all answers, from now on.
        acct.faults = Faults(
            latency_ms=(5.0, 30.0),
            error_5xx_rate=0.04,
            hang_rate=0.02,
            hang_seconds=3.0,  # past the workers' 1.5 s timeout
            malformed_rate=0.03,
            fail200_rate=0.03,
            drop_rate=0.03,
            liar_rate=0.05,
        )
        # The workers start (a few seconds each here) while the requests are submitted.
        workers = Workers(_env(campaign_settings), tmp_path)
        for _ in range(3):
            workers.start()
        try:
            expected: dict[str, tuple[str, int]] = {}  # request id -> (kind of case, subject number)
            async with rt.db.session() as s:
                cases: list[tuple[str, int]] = (
                    [("access", i) for i in range(ACCESS)]
                    + [("ghost-access", i) for i in range(GHOST_ACCESS)]
                    + [("deletion", ACCESS + i) for i in range(DELETIONS)]
                    + [("ghost-deletion", i) for i in range(GHOST_DELETIONS)]
                )
                rng.shuffle(cases)
                for case, i in cases:
                    if case == "access":
                        args: tuple[Any, ...] = ("access", f"s{i}@example.com", f"u{i}")
                    elif case == "ghost-access":
                        args = ("access", f"ghost{i}@example.com", None)
                    elif case == "deletion":  # half by email (looked up first), half by user ID
                        args = (
                            ("deletion", f"s{i}@example.com", None) if i % 2 else ("deletion", None, f"u{i}")
                        )
                    else:
                        args = ("deletion", f"ghost{i}@example.com", None)
                    req, _ = await reqs.submit(s, rt, ACTOR, *args)
                    expected[req.id] = (case, i)

            kills = 0
            started = time.monotonic()
            next_kill = started + rng.uniform(3.0, 6.0)
            while time.monotonic() - started < DEADLINE:
                await asyncio.sleep(0.5)
                async with rt.db.session() as s:
                    open_ = (
                        await s.execute(select(func.count()).select_from(Task).where(Task.done.is_(False)))
                    ).scalar()
                if not open_:
                    break
                if kills < KILLS and time.monotonic() >= next_kill:
                    workers.kill(rng.choice(workers.procs))
                    kills += 1
                    workers.start()
                    next_kill = time.monotonic() + rng.uniform(2.0, 5.0)
        finally:
            workers.stop_all()
        print(f"campaign: {time.monotonic() - started:.1f} s, {kills} kills")  # (pytest -s shows it)

        async with rt.db.session() as s:
            requests = list((await s.execute(select(Request))).scalars())
            tasks = list((await s.execute(select(Task))).scalars())
            views = {r.id: reqs.request_view(await reqs.get_request(s, r.id)) for r in requests}

    # nothing lost or duplicated: every request, one task each
    assert {r.id for r in requests} == set(expected)
    assert sorted(t.request_id for t in tasks) == sorted(expected)
    # nothing stuck: all finished, no lease left
    assert kills >= KILLS // 2, kills
    unfinished = [(v["id"], v["integrations"][0]) for v in views.values() if v["status"] != "complete"]
    assert not unfinished, unfinished[:5]
    assert all(t.done and t.lease_owner is None for t in tasks)
    # nothing falsely complete
    for rid, (case, i) in expected.items():
        (task,) = views[rid]["integrations"]
        if case == "access":
            assert task["detail"] == "1 record found" and task["records"][0]["identity"] == f"u{i}", task
        elif case in ("ghost-access", "ghost-deletion"):
            assert task["detail"] == "no records found" and not task["records"], task
        else:
            assert task["detail"] == "deletion verified", task
            assert acct.find(identity=f"u{i}") is None  # really gone when Rightly said so
            assert any(p.identity == f"u{i}" for p in acct.purged)
    # every fault happened, and the emulator never saw more than the account allows
    for fault in ("5xx", "hang", "malformed", "fail200", "drop", "liar"):
        assert state.stats.faults[(project, fault)] > 0, fault
    assert state.stats.peak_in_flight[project] <= MAX_IN_FLIGHT
    assert sum(state.stats.throttled.values()) == 0, state.stats.throttled
    for log in tmp_path.glob("worker-*.log"):
        assert PASSCODE not in log.read_text(errors="replace")
