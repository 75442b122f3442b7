"""Background jobs run by the workers: retried with the reason kept, given up visibly, recurring
sweeps rescheduled, and events turned into jobs only when the transaction that caused them commits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from rightly.emulator import EmulatorState
from rightly.engine import jobs
from rightly.engine.jobs import RECURRING, JobOutcome, JobSnapshot
from rightly.services import requests as reqs
from rightly.services.runtime import Runtime
from rightly.store.models import Job
from tests.core.helpers import ACTOR, connect, run_until_done, submit, worker


async def _jobs(rt: Runtime, kind: str) -> list[Job]:
    async with rt.db.session() as s:
        return list((await s.execute(select(Job).where(Job.kind == kind).order_by(Job.created_at))).scalars())


async def test_a_failing_job_is_retried_with_its_reason_then_succeeds(runtime: Runtime) -> None:
    seen: list[dict[str, Any]] = []

    async def flaky(job: JobSnapshot) -> JobOutcome:
        seen.append(job.payload)
        if len(seen) < 3:
            return JobOutcome.retrying("the mail server said 451", after=10)
        return JobOutcome.done()

    runtime.jobs.add("test.flaky", flaky)
    async with runtime.db.session() as s:
        await jobs.enqueue(s, "test.flaky", {"message_id": "m1"}, runtime.clock.now())
        await s.commit()
    w = worker(runtime)
    await w.run_until_idle()
    (job,) = await _jobs(runtime, "test.flaky")
    assert (job.status, job.attempts, job.last_error) == ("pending", 1, "the mail server said 451")
    for _ in range(2):
        runtime.clock.advance(10)  # type: ignore[attr-defined]
        await w.run_until_idle()
    (job,) = await _jobs(runtime, "test.flaky")
    assert (job.status, job.last_error) == ("done", None) and len(seen) == 3
    assert seen[0] == {"message_id": "m1"}


async def test_a_job_that_keeps_failing_or_raises_ends_failed_with_the_last_reason(runtime: Runtime) -> None:
    async def broken(_: JobSnapshot) -> JobOutcome:
        raise KeyError("no such template")

    runtime.jobs.add("test.broken", broken, max_attempts=3, base_delay=1, max_delay=1)
    async with runtime.db.session() as s:
        await jobs.enqueue(s, "test.broken", {}, runtime.clock.now())
        await s.commit()
    w = worker(runtime)
    for _ in range(4):
        await w.run_until_idle()
        runtime.clock.advance(2)  # type: ignore[attr-defined]
    (job,) = await _jobs(runtime, "test.broken")
    assert job.status == "failed" and job.attempts == 3
    assert job.last_error == "gave up after 3 attempts; last: internal error: KeyError"


async def test_a_keyed_job_is_queued_once_and_a_recurring_one_runs_again(runtime: Runtime) -> None:
    runs: list[float] = []

    async def sweep(_: JobSnapshot) -> JobOutcome:
        runs.append(runtime.clock.now())
        return JobOutcome.again(runtime.clock.now() + 60)

    runtime.jobs.add("test.sweep", sweep)
    runtime.recurring.append("test.sweep")
    w = worker(runtime)
    await runtime.worker_started()
    await runtime.worker_started()  # a second worker of the same process: still one job
    await w.run_until_idle()
    runtime.clock.advance(30)  # type: ignore[attr-defined]
    await w.run_until_idle()
    runtime.clock.advance(31)  # type: ignore[attr-defined]
    await w.run_until_idle()
    (job,) = await _jobs(runtime, "test.sweep")
    assert job.key == RECURRING + "test.sweep" and job.status == "pending" and len(runs) == 2


async def test_events_become_jobs_when_their_transaction_commits(
    runtime: Runtime, emulator: EmulatorState
) -> None:
    heard: list[tuple[str, str]] = []

    async def listen(job: JobSnapshot) -> JobOutcome:
        heard.append((job.payload["event"], job.payload["request_id"]))
        return JobOutcome.done()

    runtime.jobs.add("test.listen", listen)
    for event in ("request.received", "request.completed", "request.canceled"):
        runtime.events.subscribe(event, "test.listen")
    await connect(runtime)
    done = await submit(runtime, "access", "ada@example.com")
    await run_until_done(runtime)  # also runs the jobs: --until-done waits for one-off jobs
    canceled = await submit(runtime, "deletion", user_id="user-7")
    async with runtime.db.session() as s:
        await reqs.cancel(s, runtime, ACTOR, canceled)
    with_error = None
    try:
        async with runtime.db.session() as s:
            await reqs.submit(s, runtime, ACTOR, "access", "not an email", None)
    except Exception as exc:  # refused and rolled back: no event, no job
        with_error = exc
    await run_until_done(runtime)
    assert with_error is not None
    assert sorted(heard) == sorted(
        [
            ("request.received", done),
            ("request.completed", done),
            ("request.received", canceled),
            ("request.canceled", canceled),
        ]
    )
