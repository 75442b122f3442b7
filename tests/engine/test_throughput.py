"""Throughput behaviour with the injected clock: batches, priorities, the budget, 429s, the verify schedule."""

from __future__ import annotations

from sqlalchemy import select, update

from rightly.connectors.clevertap.schedule import HOUR, VerifySchedule
from rightly.domain.clock import FakeClock
from rightly.domain.enums import TaskStatus
from rightly.emulator import EmulatorState
from rightly.services.runtime import Runtime
from rightly.store.models import Task
from tests.conftest import PROJECT
from tests.core.helpers import connect, run_until_done, submit, view, worker

MIDNIGHT = 1_767_225_600.0  # 2026-01-01T00:00Z


async def test_deletions_are_batched_up_to_100_and_never_mix_identity_and_guid(
    runtime: Runtime, emulator: EmulatorState
) -> None:
    acct = emulator.account(PROJECT)
    for i in range(150):
        acct.add_profile(identity=f"id-{i}", email=f"p{i}@example.com", object_ids=[f"obj-{i}"])
    await connect(runtime, deletion_behavior="on-submit")
    probes = len(emulator.stats.deletions)  # the connection check's own probe
    for i in range(250):
        await submit(runtime, "deletion", user_id=f"id-{i}")
    for i in range(120):
        await submit(runtime, "deletion", email=f"p{i}@example.com")
    await run_until_done(runtime)
    deletions = emulator.stats.deletions[probes:]
    assert all(len(d.identity or d.guid or []) <= 100 for d in deletions)
    assert all((d.identity is None) != (d.guid is None) for d in deletions)
    assert sum(len(d.identity or []) for d in deletions) == 250
    assert sum(len(d.guid or []) for d in deletions) == 120
    assert len([d for d in deletions if d.identity]) == 3  # queued together: 100 + 100 + 50


async def test_the_budget_is_never_exceeded_and_nothing_earns_a_429(
    runtime: Runtime, emulator: EmulatorState
) -> None:
    emulator.account(PROJECT).rate = 3
    await connect(runtime)
    for i in range(30):
        await submit(runtime, "access", f"x{i}@example.com", f"user-{i}")
    await worker(runtime).run_until_idle()
    assert sum(emulator.stats.throttled.values()) == 0
    assert emulator.stats.peak_in_flight[PROJECT] <= 3


def test_verification_aims_just_after_the_nightly_window() -> None:
    s = VerifySchedule()
    submitted = MIDNIGHT + 10 * HOUR  # after today's window: tomorrow's
    first = s.next_check(submitted, 0, submitted)
    assert MIDNIGHT + 28 * HOUR <= first <= MIDNIGHT + 28.75 * HOUR
    early = MIDNIGHT + 1 * HOUR  # before tonight's window: just after it, and at least an hour later
    assert MIDNIGHT + 4 * HOUR < s.next_check(early, 0, early) < MIDNIGHT + 5 * HOUR
    late = MIDNIGHT + 3.5 * HOUR  # inside the window: an hour later, past the window
    assert s.next_check(late, 0, late) >= late + HOUR
    # oldest first: a later submission is checked later after the same window
    assert s.next_check(MIDNIGHT + 5 * HOUR, 0, MIDNIGHT + 5 * HOUR) < first
    # after two missed windows, the 1h..6h backoff takes over
    assert s.next_check(first, 2, submitted) <= first + 6 * HOUR
    assert VerifySchedule.scaled(2.0).next_check(100.0, 0, 100.0) == 102.0


async def test_a_429_slows_the_connection(
    runtime: Runtime, emulator: EmulatorState, clock: FakeClock
) -> None:
    await connect(runtime)
    acct = emulator.account(PROJECT)
    acct.max_in_flight = 1  # CleverTap allows fewer than the connection believes: 429s
    acct.faults.latency_ms = (5.0, 5.0)
    for i in range(6):
        await submit(runtime, "access", f"x{i}@example.com", f"user-{i}")
    await worker(runtime).run_until_idle()
    assert sum(emulator.stats.throttled.values()) > 0
    state = runtime.budget._keys[f"us1:{PROJECT}"]  # type: ignore[attr-defined]
    assert state.slow_level >= 1 and state.slow_until > clock.now() - 60


async def test_an_outcome_that_cannot_be_recorded_does_not_lose_the_others(
    runtime: Runtime, emulator: EmulatorState
) -> None:
    """Finished steps are written together; when that fails (here: one task was closed behind the
    worker's back, so its outcome is an impossible transition), the others are still recorded, and
    the odd one counts an attempt and says why, instead of looping silently under its lease."""
    await connect(runtime)
    ids = [await submit(runtime, "access", f"x{i}@example.com", f"user-{i}") for i in range(5)]
    w = worker(runtime)
    await w._round()  # leased: the five steps running (and the jobs the requests' events queued)
    async with runtime.db.session() as s:
        leased = (await s.execute(select(Task).where(Task.lease_owner == w.owner))).scalars().all()
    assert len(leased) == 5
    async with runtime.db.session() as s:
        await s.execute(update(Task).where(Task.request_id == ids[0]).values(status=TaskStatus.CANCELED))
        await s.commit()
    await w.run_until_idle()
    views = [await view(runtime, i) for i in ids]
    assert [v["status"] for v in views[1:]] == ["complete"] * 4
    odd = views[0]["integrations"][0]
    assert odd["status"] == "canceled" and odd["completed_at"] is None
    assert "outcome could not be recorded" in odd["detail"]
    async with runtime.db.session() as s:
        task = (await s.execute(select(Task).where(Task.request_id == ids[0]))).scalar_one()
    assert task.lease_owner is None and task.attempts == 1 and not task.done
