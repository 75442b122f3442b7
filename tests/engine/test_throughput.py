"""Throughput behaviour with the injected clock: batches, priorities, the budget, 429s, the verify schedule."""

from __future__ import annotations

from rightly.connectors.clevertap.schedule import HOUR, VerifySchedule
from rightly.domain.clock import FakeClock
from rightly.emulator import EmulatorState
from rightly.services.runtime import Runtime
from tests.conftest import PROJECT
from tests.core.helpers import connect, run_until_done, submit, worker

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
