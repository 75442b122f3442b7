"""The worker: lease due tasks, run one connector step for each, persist the outcome.

Many workers (processes, machines) may run against one PostgreSQL database; each leases with
``SKIP LOCKED`` and a lease that expires, so a worker that dies loses its tasks to another.
Nothing here sleeps inside a step: waiting (budget, backoff, CleverTap's nightly batch) is a
``next_run_at`` in the database; the loop itself only waits on the injected clock when idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from rightly.connectors.base import Registry
from rightly.domain.clock import Clock
from rightly.domain.work import TaskSnapshot, TaskUpdate
from rightly.engine import jobs, queue
from rightly.engine.dispatch import Dispatcher
from rightly.engine.events import Events
from rightly.engine.job_runner import JobRunner
from rightly.engine.jobs import JobKinds
from rightly.http.permits import Budget
from rightly.http.vendor import VendorHTTP
from rightly.store.db import Database
from rightly.store.models import Connection, Task
from rightly.store.secrets import Secrets

log = logging.getLogger(__name__)
_LIVE_CONNECTIONS = select(Connection.__table__).where(Connection.removed_at.is_(None))


@dataclass
class WorkerOptions:
    concurrency: int = 64
    lease_seconds: float = 120.0
    idle_poll: float = 1.0  # longest idle wait before looking for new work (math.inf: only due times)
    timeout: float = 20.0
    budget_wait: float = 5.0
    # Background steps leased per connection: what its budget serves in this many seconds.
    lease_horizon: float = 2.0
    fill_interval: float = 0.1  # most real seconds to gather finished steps before the next round
    empty_fill_interval: float = 0.2  # the same, after a lease that found nothing due
    max_backoff: float = 30.0  # longest pause after failed rounds (the database unreachable)


@dataclass
class WorkerStats:
    steps: int = 0
    tasks: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class WorkerHealth:
    """How the worker's own loop is doing (``/readyz`` shows it): the last good round, and the
    errors since."""

    last_ok_at: float | None = None
    failures: int = 0
    last_error: str | None = None

    def ok(self, now: float) -> None:
        self.last_ok_at, self.failures, self.last_error = now, 0, None

    def failed(self, exc: Exception, now: float, cap: float) -> float:
        """Count a failed round; the seconds to wait before the next."""
        self.failures += 1
        self.last_error = f"{type(exc).__name__}: {str(exc)[:200]}"
        return min(cap, 0.5 * 2 ** (self.failures - 1))


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    def __init__(
        self,
        db: Database,
        registry: Registry,
        secrets: Secrets,
        http: VendorHTTP,
        budget: Budget,
        clock: Clock,
        options: WorkerOptions | None = None,
        owner: str | None = None,
        on_start: Callable[[], Awaitable[None]] | None = None,
        jobs: JobKinds | None = None,
        events: Events | None = None,
    ) -> None:
        self.db = db
        self.registry = registry
        self.clock = clock
        self.options = options or WorkerOptions()
        self.owner = owner or default_owner()
        self.dispatch = Dispatcher(
            registry, secrets, http, budget, clock, self.options.timeout, self.options.budget_wait
        )
        self.stats = WorkerStats()
        self.health = WorkerHealth()
        self._on_start = on_start  # e.g. start listening for work queued by other processes
        self.events = events or Events()
        self.jobs = JobRunner(jobs or JobKinds(), self.owner, self.options.lease_seconds, self._spawn)
        self._outcomes: list[list[TaskUpdate]] = []  # finished steps' updates, for the next round
        self._enough: asyncio.Future[None] | None = None  # set once enough steps have finished
        self.wakeup = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        self._stepping: Counter[str] = Counter()  # lookup/resolve/verify steps running, per connection
        self._connections: dict[str, Row[Any]] = {}  # the live connections, as the last fill read them

    def poke(self) -> None:
        """New work was queued in this process: stop idling."""
        self.wakeup.set()

    async def run(
        self,
        stop: asyncio.Event | None = None,
        until_done: bool = False,
    ) -> None:
        """Work until ``stop`` is set, or (``until_done``) until no unfinished task remains.

        Supervised: an error in a round (the database unreachable for a while, say) is logged,
        shown in ``health``, backed off (half a second, doubling to ``max_backoff``) and the loop
        goes on; finished steps' outcomes are kept for the next round meanwhile."""
        stop = stop or asyncio.Event()
        try:
            while not stop.is_set():
                try:
                    if self._on_start is not None:
                        await self._on_start()  # supervised too: the database may be away at start
                        self._on_start = None
                    if await self._cycle(stop, until_done):
                        return
                    self.health.ok(self.clock.now())
                except Exception as exc:
                    delay = self.health.failed(exc, self.clock.now(), self.options.max_backoff)
                    log.exception(
                        "worker round failed (%s in a row); next try in %.1f s", self.health.failures, delay
                    )
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=delay)
        finally:
            await self._drain()

    async def _cycle(self, stop: asyncio.Event, until_done: bool) -> bool:
        """One round and the wait after it; True when ``until_done`` and nothing is left."""
        started = await self._round()
        if self._running:
            done, _ = await asyncio.wait(self._running, timeout=0.5, return_when=asyncio.FIRST_COMPLETED)
            # Let more steps finish before the next round (a round per finished step costs
            # more CPU than the steps do), and longer when the last found nothing new.
            gather = self.options.fill_interval if started else self.options.empty_fill_interval
            if done and self._running and gather > 0:
                await self._gather(gather)
            return False
        if started or self._outcomes or self.jobs.has_outcomes:
            return False
        if until_done and not await self.has_open_tasks():
            return True
        await self._idle(stop)
        return False

    async def run_until_idle(self) -> int:
        """Process everything due now (and what becomes due while doing so); no waiting for later work."""
        before = self.stats.tasks
        while True:
            started = await self._round()
            if self._running:
                await asyncio.wait(self._running, return_when=asyncio.FIRST_COMPLETED)
            elif not started and not self._outcomes and not self.jobs.has_outcomes:
                return self.stats.tasks - before

    async def _gather(self, seconds: float) -> None:
        """Wait up to ``seconds`` (real time) until as many steps have finished as are still
        running: rounds then carry tens of outcomes under load, while half the steps keep going."""
        if len(self._outcomes) >= len(self._running):
            return
        self._enough = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(self._enough, timeout=seconds)
        except TimeoutError:
            pass
        finally:
            self._enough = None

    async def _round(self) -> int:
        """One transaction: write what the finished steps decided, then lease what can run now.

        Should writing the outcomes together fail (one bad update), they are written one step at a
        time instead, so the others are kept; one that still fails is logged and its task runs
        again once its lease expires."""
        outcomes, self._outcomes = self._outcomes, []
        now = self.clock.now()
        try:
            async with self.db.session() as s:
                if outcomes:
                    try:
                        await queue.persist(
                            s,
                            self.registry,
                            self.owner,
                            [u for step in outcomes for u in step],
                            now,
                            self.events,
                        )
                    except Exception as exc:
                        if _unreachable(exc):
                            raise
                        await s.rollback()
                        await self._persist_each(outcomes, now)
                steps = await self._fill(s, now)
                started_jobs = await self.jobs.round(s, now, self.options.concurrency - len(self._running))
                await s.commit()
        except BaseException:
            self._outcomes[:0] = outcomes  # the database failed us: keep them for the next try
            raise
        for leased in steps:  # only once their leases are committed
            self._start(leased)
        self.jobs.start_leased()
        return sum(len(leased) for leased in steps) + started_jobs

    async def _persist_each(self, outcomes: list[list[TaskUpdate]], now: float) -> None:
        if len(outcomes) > 1:
            log.warning("recording %d steps together failed; recording them one by one", len(outcomes))
        for updates in outcomes:
            try:
                async with self.db.session() as s:
                    await queue.persist(s, self.registry, self.owner, updates, now, self.events)
                    await s.commit()
            except Exception as exc:
                if _unreachable(exc):
                    raise  # the database, not this outcome: keep every outcome for the next round
                log.exception("could not record the outcome of tasks %s", _ids(updates))
                await self._record_unrecordable(updates, exc, now)

    async def _record_unrecordable(self, updates: list[TaskUpdate], exc: Exception, now: float) -> None:
        """A step's outcome the database refused: count an attempt and say why on each task, so
        the task backs off and, failing again and again, ends in error, never loops unseen."""
        reason = f"internal error: the step's outcome could not be recorded ({type(exc).__name__})"
        try:
            async with self.db.session() as s:
                await queue.persist(
                    s,
                    self.registry,
                    self.owner,
                    [TaskUpdate(u.task_id, retry=reason) for u in updates],
                    now,
                    self.events,
                )
                await s.commit()
        except Exception:
            log.exception("could not record the failure of tasks %s either", _ids(updates))

    async def has_open_tasks(self) -> bool:
        """True while a task is unfinished or a one-off job (not a recurring sweep) is pending."""
        async with self.db.session() as s:
            count = (
                await s.execute(select(func.count()).select_from(Task).where(Task.done.is_(False)))
            ).scalar()
            return bool(count) or (bool(self.jobs.kinds) and await jobs.has_one_off(s))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        job = asyncio.create_task(coro)
        self._running.add(job)
        job.add_done_callback(self._running.discard)

    async def _fill(self, s: AsyncSession, now: float) -> list[list[queue.Leased]]:
        """Lease what can run now, as the steps to start: per connection only as many steps as its budget can serve within
        ``lease_horizon`` (interactive first), so leased tasks do not sit waiting for budget and
        come back busy, having spent calls for nothing; and every due submission batch."""
        free = self.options.concurrency - len(self._running)
        if free <= 0:
            return []
        opts = self.options
        singles: list[queue.Leased] = []
        submits: list[queue.Leased] = []
        for conn_id, room in await self._room(s):
            # Within the room, interactive work first, then resolve and verify steps.
            batched = self.registry.batched_phases(self._connections[conn_id].vendor)
            got = await queue.lease(
                s, self.owner, conn_id, now, opts.lease_seconds, min(free, room), batched=batched
            )
            free -= len(got)
            singles += got
        batched_anywhere = frozenset().union(
            *(self.registry.batched_phases(c.vendor) for c in self._connections.values())
        )
        for conn_id, phase in await queue.due_batches(s, now, batched_anywhere):
            conn = self._connections.get(conn_id)
            if conn is None:
                continue  # removed: its tasks were canceled with it
            spec = self.registry.phase(conn.vendor, phase)
            if not spec.batched:
                continue
            # Once one task of a batched phase is due, take those due within its lookahead as well:
            # deletions resolved moments apart share one call, and none waits more than that.
            submits += await queue.lease(
                s,
                self.owner,
                conn_id,
                now,
                opts.lease_seconds,
                spec.batch_tasks,
                batched=frozenset({phase}),
                in_batches=True,
                due_by=now + spec.lookahead,
            )
        groups: dict[tuple[str, str], list[queue.Leased]] = {}
        for item in submits:
            groups.setdefault((item.connection_id, item.snapshot.phase), []).append(item)
        return [[item] for item in singles] + list(groups.values())

    async def _room(self, session: AsyncSession) -> list[tuple[str, int]]:
        """Per connection, how many more single-task steps to lease: what its budget serves within
        ``lease_horizon``, less the steps already running. Also refreshes the connections' settings."""
        rows = await session.execute(_LIVE_CONNECTIONS)
        self._connections = {row.id: row for row in rows}
        room = []
        for conn_id, conn in self._connections.items():
            cap = max(conn.max_in_flight, math.ceil(conn.rate * self.options.lease_horizon))
            room.append((conn_id, cap - self._stepping[conn_id]))
        return [(c, r) for c, r in room if r > 0]

    def _start(self, items: list[queue.Leased]) -> None:
        conn_id = items[0].connection_id
        job = asyncio.create_task(self._step(self._connections[conn_id], [i.snapshot for i in items]))
        self._running.add(job)
        job.add_done_callback(self._running.discard)
        vendor = self._connections[conn_id].vendor
        if items[0].snapshot.phase not in self.registry.batched_phases(vendor):
            self._stepping[conn_id] += 1
            job.add_done_callback(lambda _: self._stepping.subtract([conn_id]))

    async def _step(self, conn: Row[Any], snaps: list[TaskSnapshot]) -> None:
        self.stats.steps += 1
        self.stats.tasks += len(snaps)
        try:
            updates = await self.dispatch.run(conn, snaps, self._record_intent)
        except Exception as exc:  # a bug must not lose the task: retry it later, and say why
            log.exception("step failed for tasks %s", [t.id for t in snaps])
            self.stats.errors.append(f"{type(exc).__name__}: {exc}")
            updates = [TaskUpdate(t.id, retry=f"internal error: {type(exc).__name__}") for t in snaps]
        self._outcomes.append(updates)  # written by the next round
        enough = self._enough
        if enough is not None and not enough.done() and len(self._outcomes) >= len(self._running) - 1:
            enough.set_result(None)  # (this step's job is still counted as running)

    async def _record_intent(self, task_ids: list[str]) -> None:
        async with self.db.session() as s:
            await queue.record_intent(s, self.owner, task_ids, self.clock.now())

    async def _idle(self, stop: asyncio.Event) -> None:
        async with self.db.session() as s:
            due = _earliest(await queue.next_due(s), await self.jobs.next_due(s))
        now = self.clock.now()
        wait = self.options.idle_poll if due is None else max(0.0, min(due - now, self.options.idle_poll))
        if math.isinf(wait):
            wait = 3600.0
        self.wakeup.clear()
        sleeper = asyncio.create_task(self.clock.sleep(wait))
        waker = asyncio.create_task(self.wakeup.wait())
        stopper = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({sleeper, waker, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (sleeper, waker, stopper):
                t.cancel()

    async def _drain(self) -> None:
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        if self._outcomes:
            outcomes, self._outcomes = self._outcomes, []
            await self._persist_each(outcomes, self.clock.now())
        try:
            await self.jobs.drain(self.db.session, self.clock.now())
        except Exception:
            log.exception("could not record the last jobs' outcomes; they run again once their leases expire")


def _earliest(*times: float | None) -> float | None:
    known = [t for t in times if t is not None]
    return min(known) if known else None


def _unreachable(exc: BaseException) -> bool:
    """The database itself failed (down, locked, connection lost), not one outcome's values."""
    return isinstance(exc, OSError | OperationalError | InterfaceError) or bool(
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )


def _ids(updates: list[TaskUpdate]) -> list[str]:
    return [u.task_id for u in updates]
