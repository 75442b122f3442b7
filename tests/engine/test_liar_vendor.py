"""A vendor that accepts a deletion and then answers lookups with things that look like "not found"
but are not one of the documented shapes (clevertap-api.md §5) never gets the deletion marked
complete: each such answer is retried, counted and shown, while the profile really still exists.
Once the profile is really gone and the answer is a documented shape, the deletion is verified."""

from __future__ import annotations

import pytest

from rightly.domain.clock import FakeClock
from rightly.emulator import EmulatorState
from rightly.engine.retry import MAX_ATTEMPTS
from rightly.services.runtime import Runtime
from tests.conftest import PROJECT
from tests.core.helpers import connect, submit, view, worker


async def _run(rt: Runtime, clock: FakeClock, rounds: int, step: float = 3600.0) -> None:
    w = worker(rt)
    for _ in range(rounds):
        await w.run_until_idle()
        clock.advance(step)


@pytest.mark.parametrize("shape", ["null", "fail"])
async def test_liar_answers_never_complete_a_deletion(
    runtime: Runtime, emulator: EmulatorState, clock: FakeClock, shape: str
) -> None:
    acct = emulator.account(PROJECT)
    acct.not_found_shape = shape  # type: ignore[assignment]
    acct.deletion_delay = 10 * 86400.0  # the profile stays for ten days after it is marked
    await connect(runtime, verify_interval=60.0)
    rid = await submit(runtime, "deletion", user_id="user-42")
    await _run(runtime, clock, 2, step=1.0)
    submitted = (await view(runtime, rid))["integrations"][0]
    assert submitted["submitted_at"] is not None and submitted["status"] == "processing"

    acct.faults.liar_rate = 1.0  # from now on every lookup is answered with a liar shape
    await _run(runtime, clock, MAX_ATTEMPTS + 5)
    lied = (await view(runtime, rid))["integrations"][0]
    assert acct.find(identity="user-42") is not None  # the profile is still there ...
    assert (
        lied["status"] != "complete" and lied["detail"] != "deletion verified"
    )  # ... and nobody says otherwise
    assert lied["status"] == "error" and "kept failing" in lied["detail"]  # shown, after the attempts
    assert "not recognise" in lied["error"] or "temporary" in lied["error"]
    assert emulator.stats.faults[(PROJECT, "liar")] >= MAX_ATTEMPTS


@pytest.mark.parametrize("shape", ["null", "fail"])
async def test_a_documented_not_found_after_the_purge_verifies_the_deletion(
    runtime: Runtime, emulator: EmulatorState, clock: FakeClock, shape: str
) -> None:
    acct = emulator.account(PROJECT)
    acct.not_found_shape = shape  # type: ignore[assignment]
    acct.deletion_delay = 2 * 3600.0
    await connect(runtime, verify_interval=600.0)  # (a liar would fail the connection check too)
    acct.faults.liar_rate = 0.5  # half the answers lie; none of them may finish the task
    rid = await submit(runtime, "deletion", user_id="user-42")
    verified_at = None
    for _ in range(60):
        await _run(runtime, clock, 1, step=600.0)
        task = (await view(runtime, rid))["integrations"][0]
        if task["status"] == "complete":
            verified_at = clock.now()
            break
    assert verified_at is not None, task
    assert task["detail"] == "deletion verified"
    assert acct.find(identity="user-42") is None  # really gone when Rightly said so
