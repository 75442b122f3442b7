"""Priorities under one budget, end to end through the worker: interactive work first,
verification lookups only with what is left; and no identifier is looked up twice."""

from __future__ import annotations

from rightly.domain.clock import FakeClock
from rightly.emulator import EmulatorState
from rightly.services.runtime import Runtime
from tests.conftest import PROJECT
from tests.core.helpers import connect, submit, view, worker


async def test_an_access_request_overtakes_a_queue_of_verification_lookups(
    runtime: Runtime, emulator: EmulatorState, clock: FakeClock
) -> None:
    acct = emulator.account(PROJECT)
    acct.rate = 3
    for i in range(30):
        acct.add_profile(identity=f"id-{i}", email=f"p{i}@example.com")
    await connect(runtime, verify_interval=60.0)
    deletions = [await submit(runtime, "deletion", user_id=f"id-{i}") for i in range(30)]
    await worker(runtime).run_until_idle()  # all submitted in one call; verification due in 60 s
    clock.advance(61)  # thirty verification lookups are now due (profiles not yet purged)
    access = await submit(runtime, "access", "ada@example.com", "user-42")
    await worker(runtime).run_until_idle()
    done = await view(runtime, access)
    checked = [(await view(runtime, rid))["integrations"][0]["last_checked_at"] for rid in deletions]
    assert done["status"] == "complete" and all(checked)
    later = [t for t in checked if t >= done["completed_at"]]
    # At 3 calls per second the 30 lookups take ~10 s; the access request's 2 lookups go first,
    # at most behind the few verification calls already granted when it arrived.
    assert len(later) >= 25, (done["completed_at"], sorted(checked))


async def test_each_identifier_is_looked_up_once_per_request(
    runtime: Runtime, emulator: EmulatorState
) -> None:
    acct = emulator.account(PROJECT)
    acct.rate = 3
    await connect(runtime)
    before = emulator.stats.calls[(PROJECT, "profile")]
    ids = [await submit(runtime, "access", f"s{i}@example.com", f"u{i}") for i in range(40)]
    await worker(runtime).run_until_idle()
    assert [(await view(runtime, rid))["status"] for rid in ids] == ["complete"] * len(ids)
    assert emulator.stats.calls[(PROJECT, "profile")] - before == 80
    assert sum(emulator.stats.throttled.values()) == 0
