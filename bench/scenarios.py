"""Rightly's side of the benchmark: scenarios (a), (a'), (b) over HTTP, (c) on a simulated clock.

Every scenario opens a fresh SQLite home, connects CleverTap (the emulator) with the same limits
the emulator enforces, queues its requests and runs one worker until the scenario's end.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
from sqlalchemy import func, select

from bench.baseline import PASSCODE, Incumbent, percentile
from bench.simclock import SimClock
from rightly.app.runtime import open_runtime
from rightly.emulator import EmulatorState, create_emulator_app
from rightly.engine.worker import WorkerOptions
from rightly.http.budget import LocalBudget
from rightly.services import requests as reqs
from rightly.services.audit import Actor
from rightly.services.connections import ConnectionInput, connect
from rightly.services.runtime import Runtime
from rightly.settings import Settings
from rightly.store.models import Evidence, Request, Task

DAY = 86400.0


@dataclass
class Limits:
    rate: float = 20.0
    max_in_flight: int = 3
    latency_ms: float = 20.0


class PeakMemory:
    """Samples this process's RSS while a scenario runs."""

    def __init__(self) -> None:
        self.peak = 0
        self._proc = psutil.Process()
        self._task: asyncio.Task[None] | None = None

    async def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, self._proc.memory_info().rss)
            await asyncio.sleep(0.05)

    def __enter__(self) -> PeakMemory:
        self._task = asyncio.get_running_loop().create_task(self._sample())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        self.peak = max(self.peak, self._proc.memory_info().rss)


@dataclass
class Counts:
    calls: int = 0
    throttled: int = 0
    deletion_sizes: list[int] = field(default_factory=list)


def account_counts(stats: dict[str, Any], pid: str) -> Counts:
    calls = sum(v for k, v in stats["calls"].get(pid, {}).items() if k in ("profile", "delete"))
    throttled = sum(stats["throttled"].get(pid, {}).values())
    sizes = [len(d["identity"] or d["guid"] or []) for d in stats["deletions"] if d["project_id"] == pid]
    return Counts(calls, throttled, sizes)


def settings_for(home: Path) -> Settings:
    return Settings(home=home, secret_key="bench-key", deletion_batch_window=0.5, allow_custom_base_urls=True)


async def connect_bench(rt: Runtime, pid: str, base_url: str, limits: Limits) -> None:
    data = ConnectionInput.model_validate(
        {
            "name": "bench",
            "project_id": pid,
            "passcode": PASSCODE,
            "region": "us1",
            "api_base_url": f"{base_url}/us1",
            "max_in_flight": limits.max_in_flight,
            "rate": limits.rate,
        }
    )
    async with rt.db.session() as s:
        await connect(s, rt, Actor("system", "bench"), data)


async def enqueue(rt: Runtime, items: list[tuple[str, str | None, str | None]]) -> None:
    async with rt.db.session() as s:
        for kind, email, user_id in items:
            await reqs.submit(s, rt, Actor("system", "bench"), kind, email, user_id)


async def open_count(rt: Runtime, phases: list[str] | None) -> int:
    query = select(func.count()).select_from(Task).where(Task.done.is_(False))
    if phases:
        query = query.where(Task.phase.in_(phases))
    async with rt.db.session() as s:
        return int((await s.execute(query)).scalar() or 0)


async def run_http(
    name: str, base_url: str, pid: str, limits: Limits, items: list[tuple[str, str | None, str | None]]
) -> dict[str, Any]:
    """(a), (a') or (b): queue ``items`` at once, run a worker until they are submitted / complete."""
    deletion = items[0][0] == "deletion"
    async with httpx.AsyncClient(timeout=10) as probe:
        with tempfile.TemporaryDirectory() as home:
            async with open_runtime(settings_for(Path(home))) as rt:
                await connect_bench(rt, pid, base_url, limits)
                before = account_counts((await probe.get(f"{base_url}/_emulator/stats")).json(), pid)
                await enqueue(rt, items)
                worker = rt.worker(WorkerOptions(concurrency=64))
                stop = asyncio.Event()
                phases = ["resolve", "submit"] if deletion else None

                async def watch() -> None:  # the end time comes from the database, not from here
                    while await open_count(rt, phases):
                        await asyncio.sleep(0.5)
                    stop.set()

                with PeakMemory() as mem:
                    start, cpu0 = time.time(), time.process_time()
                    await asyncio.gather(worker.run(stop), watch())
                    cpu = time.process_time() - cpu0
                async with rt.db.session() as s:
                    if deletion:
                        end = (await s.execute(select(func.max(Task.submitted_at)))).scalar() or start
                        latencies: list[float] = []
                    else:
                        rows = await s.execute(select(Request.completed_at))
                        done = [float(t) for t in rows.scalars() if t is not None]
                        end = max(done)
                        latencies = [t - start for t in done]
        after = account_counts((await probe.get(f"{base_url}/_emulator/stats")).json(), pid)
    calls = after.calls - before.calls
    wall = float(end) - start
    sizes = after.deletion_sizes[len(before.deletion_sizes) :]
    return {
        "scenario": name,
        "requests": len(items),
        "time_s": wall,
        "calls": calls,
        "calls_per_request": calls / len(items),
        "throttled": after.throttled - before.throttled,
        "budget_use": calls / (wall * limits.rate) if wall > 0 else None,
        "subjects_per_deletion_call": sum(sizes) / len(sizes) if sizes else None,
        "access_p50_s": percentile(latencies, 0.5) if latencies else None,
        "access_p95_s": percentile(latencies, 0.95) if latencies else None,
        "cpu_ms_per_request": cpu * 1000 / len(items),
        "peak_rss_mb": mem.peak / 2**20,
    }


# -- (c): three days on a simulated clock -------------------------------------------------------


@dataclass
class Arrival:
    at: float
    kind: str
    index: int


def arrivals(start: float, deletions: int, accesses: int, seed: int = 7) -> list[Arrival]:
    rng = random.Random(seed)
    out = [Arrival(start + rng.uniform(0, DAY), "deletion", i) for i in range(deletions)]
    out += [Arrival(start + rng.uniform(0, 3 * DAY), "access", deletions + i) for i in range(accesses)]
    return sorted(out, key=lambda a: a.at)


def emulator_for(clock: SimClock, pid: str, limits: Limits, subjects: int) -> EmulatorState:
    state = EmulatorState(clock=clock, seed=1, sleep=clock.sleep)
    acct = state.add_account(pid, PASSCODE, "us1", rate=limits.rate, max_in_flight=limits.max_in_flight)
    acct.faults.latency_ms = (limits.latency_ms, limits.latency_ms)
    for i in range(subjects):
        acct.add_profile(identity=f"u{i}", email=f"s{i}@example.com", object_ids=[f"g{i}"])
    return state


@dataclass
class Simulation:
    """Days on one simulated clock: the arrivals, and the in-process emulator they go to."""

    clock: SimClock
    start: float
    plan: list[Arrival]
    state: EmulatorState

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_emulator_app(self.state)))


@contextlib.asynccontextmanager
async def simulation(pid: str, limits: Limits, deletions: int, accesses: int) -> AsyncIterator[Simulation]:
    """The clock driven (time jumps whenever everything waits) for as long as the block runs."""
    clock = SimClock()
    start = clock.now()
    state = emulator_for(clock, pid, limits, deletions + accesses)
    stop = asyncio.Event()
    driver = asyncio.create_task(clock.drive(stop))
    try:
        yield Simulation(clock, start, arrivals(start, deletions, accesses), state)
    finally:
        stop.set()
        await driver


async def run_sim(limits: Limits, deletions: int, accesses: int) -> dict[str, Any]:
    async with simulation("R-C", limits, deletions, accesses) as sim:
        clock, start, plan, state = sim.clock, sim.start, sim.plan, sim.state
        with tempfile.TemporaryDirectory() as home:
            http = sim.client()
            budget = LocalBudget(clock)
            async with (
                http,
                open_runtime(settings_for(Path(home)), clock=clock, http=http, budget=budget) as rt,
            ):
                await connect_bench(rt, "R-C", "http://emulator", limits)
                state.stats.reset()
                worker = rt.worker(WorkerOptions(concurrency=64, idle_poll=math.inf))
                done = asyncio.Event()

                async def arrive() -> None:
                    for a in plan:
                        await clock.sleep(a.at - clock.now())
                        i = a.index
                        if a.kind == "deletion":
                            await enqueue(rt, [("deletion", None, f"u{i}")])
                        else:
                            await enqueue(rt, [("access", f"s{i}@example.com", f"u{i}")])

                async def monitor() -> None:
                    await arrivals_task
                    while await open_count(rt, None) and clock.now() < start + 7 * DAY:
                        await clock.sleep(3600)
                    done.set()

                with PeakMemory() as mem:
                    cpu0 = time.process_time()
                    arrivals_task = asyncio.create_task(arrive())
                    await asyncio.gather(worker.run(done), monitor())
                    cpu = time.process_time() - cpu0
                async with rt.db.session() as s:
                    rows = list(
                        (
                            await s.execute(
                                select(
                                    Request.type, Request.created_at, Request.completed_at, Task.detail
                                ).join(Task, Task.request_id == Request.id)
                            )
                        ).all()
                    )
                    verify_lookups = (
                        await s.execute(
                            select(func.count())
                            .select_from(Evidence)
                            .join(Task, Task.id == Evidence.task_id)
                            .join(Request, Request.id == Task.request_id)
                            .where(Request.type == "deletion", Evidence.kind == "lookup")
                        )
                    ).scalar() or 0
    verified = [r for r in rows if r.type == "deletion" and r.detail == "deletion verified"]
    access = [r.completed_at - r.created_at for r in rows if r.type == "access" and r.completed_at]
    last = max((r.completed_at for r in verified), default=start)
    counts = account_counts(state.stats.to_json(), "R-C")
    return {
        "scenario": "c",
        "requests": deletions + accesses,
        "time_s": last - start,
        "calls": counts.calls,
        "calls_per_request": counts.calls / (deletions + accesses),
        "throttled": counts.throttled,
        "budget_use": None,
        "subjects_per_deletion_call": sum(counts.deletion_sizes) / max(1, len(counts.deletion_sizes)),
        "verified": len(verified),
        "deletions": deletions,
        "lookups_per_verified_deletion": verify_lookups / max(1, len(verified)),
        "access_p50_s": percentile(access, 0.5),
        "access_p95_s": percentile(access, 0.95),
        "cpu_ms_per_request": cpu * 1000 / (deletions + accesses),
        "cpu_note": "includes the in-process emulator",
        "peak_rss_mb": mem.peak / 2**20,
    }


async def run_sim_baseline(limits: Limits, deletions: int, accesses: int) -> dict[str, Any]:
    """(c) the incumbent way: one subject per call at 75%, a lookup every hour until gone."""
    latencies: list[float] = []
    verified_at: list[float] = []
    async with simulation("B-C", limits, deletions, accesses) as sim:
        clock, start, plan, state = sim.clock, sim.start, sim.plan, sim.state
        async with sim.client() as http:
            inc = Incumbent(http, "http://emulator/us1", "B-C", limits.rate, limits.max_in_flight, clock)

            async def deletion(uid: str) -> None:
                await inc.delete("identity", [uid])
                while True:
                    await clock.sleep(3600)
                    if await inc.lookup("identity", uid) is None:
                        verified_at.append(clock.now())
                        return

            async def access(i: int) -> None:
                t0 = clock.now()
                await inc.access(f"s{i}@example.com", f"u{i}")
                latencies.append(clock.now() - t0)

            jobs = []
            for a in plan:
                await clock.sleep(a.at - clock.now())
                jobs.append(
                    asyncio.create_task(deletion(f"u{a.index}") if a.kind == "deletion" else access(a.index))
                )
            await asyncio.gather(*jobs)
    counts = account_counts(state.stats.to_json(), "B-C")
    lookups = counts.calls - len(counts.deletion_sizes) - 2 * accesses
    return {
        "scenario": "c",
        "time_s": max(verified_at) - start,
        "calls": counts.calls,
        "throttled": counts.throttled,
        "lookups_per_verified_deletion": lookups / max(1, len(verified_at)),
        "access_p50_s": percentile(latencies, 0.5),
        "access_p95_s": percentile(latencies, 0.95),
    }
