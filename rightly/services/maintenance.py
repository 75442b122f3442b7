"""Sweeps the worker runs on its own: dropping throttle counts no window can still see."""

from __future__ import annotations

from rightly.engine.jobs import JobOutcome, JobSnapshot
from rightly.services import throttle
from rightly.services.runtime import Runtime

PRUNE_EVERY = 3600.0


def register(rt: Runtime) -> None:
    async def prune_throttle(_: JobSnapshot) -> JobOutcome:
        async with rt.db.session() as s:
            await throttle.prune(s, rt.clock.now())
            await s.commit()
        return JobOutcome.again(rt.clock.now() + PRUNE_EVERY)

    rt.jobs.add("sweep.throttle", prune_throttle)
    rt.recurring.append("sweep.throttle")
