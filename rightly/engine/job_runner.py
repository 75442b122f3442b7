"""Running background jobs inside a worker's rounds: settle what finished, lease what is due, start
each handler as its own asyncio task. Kept apart from the task scheduling in ``worker.py``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from rightly.engine import jobs
from rightly.engine.jobs import JobKinds, JobOutcome, JobSnapshot

log = logging.getLogger(__name__)
Spawn = Callable[[Coroutine[Any, Any, None]], None]


class JobRunner:
    def __init__(self, kinds: JobKinds, owner: str, lease_seconds: float, spawn: Spawn) -> None:
        self.kinds = kinds
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.spawn = spawn
        self.running = 0
        self._finished: list[tuple[JobSnapshot, JobOutcome]] = []
        self._leased: list[JobSnapshot] = []

    @property
    def has_outcomes(self) -> bool:
        return bool(self._finished)

    async def round(self, session: AsyncSession, now: float, free: int) -> int:
        """Within the worker's round transaction: record finished jobs, lease and start due ones."""
        if not self.kinds:
            return 0
        finished, self._finished = self._finished, []
        try:
            if finished:
                await jobs.settle(session, self.owner, self.kinds, finished, now)
            leased = await jobs.lease(session, self.owner, self.kinds, now, self.lease_seconds, free)
        except BaseException:
            self._finished[:0] = finished  # kept for the next round
            raise
        self._leased = leased
        return len(leased)

    def start_leased(self) -> None:
        """Once the round's transaction committed its leases."""
        for job in self._leased:
            self.running += 1
            self.spawn(self._run(job))
        self._leased = []

    async def _run(self, job: JobSnapshot) -> None:
        spec = self.kinds.kinds[job.kind]
        try:
            outcome = await spec.handler(job)
        except Exception as exc:  # a bug must not lose the job: retry it later, and say why
            log.exception("job %s (%s) failed", job.id, job.kind)
            outcome = JobOutcome.retrying(f"internal error: {type(exc).__name__}")
        finally:
            self.running -= 1
        self._finished.append((job, outcome))

    async def next_due(self, session: AsyncSession) -> float | None:
        return await jobs.next_due(session, self.kinds)

    async def drain(self, session_factory: Callable[[], Any], now: float) -> None:
        """Record what finished before the worker stops."""
        if not self._finished:
            return
        finished, self._finished = self._finished, []
        async with session_factory() as s:
            await jobs.settle(s, self.owner, self.kinds, finished, now)
            await s.commit()
