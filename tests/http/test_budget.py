"""LocalBudget: the limits a CleverTap account would notice, measured from the outside."""

from __future__ import annotations

import asyncio
import bisect
import time
from collections import Counter

import pytest

from rightly.domain.clock import FakeClock, SystemClock
from rightly.domain.enums import Priority
from rightly.http.budget import LocalBudget
from rightly.http.budgets import budget_from_url
from rightly.http.permits import Limits, Permit
from rightly.http.redis_budget import RedisBudget

KEY = "eu1:TEST-123"


def busiest_second(times: list[float]) -> int:
    """The most grants in any closed 1-second window (the busiest window starts at some grant)."""
    times = sorted(times)
    return max(bisect.bisect_right(times, t + 1.0) - i for i, t in enumerate(times))


async def must_acquire(budget: LocalBudget, limits: Limits, priority: Priority = Priority.SUBMIT) -> Permit:
    permit = await budget.acquire(KEY, limits, priority, max_wait=60)
    assert permit is not None
    return permit


async def gap_between_grants(budget: LocalBudget, limits: Limits) -> float:
    """Seconds between two back-to-back grants, i.e. the spacing the budget enforces right now."""
    first = await must_acquire(budget, limits)
    await budget.release(first)
    second = await must_acquire(budget, limits)
    await budget.release(second)
    return second.granted_at - first.granted_at


def test_limits_reject_nonsense() -> None:
    with pytest.raises(ValueError):
        Limits(max_in_flight=0)
    with pytest.raises(ValueError):
        Limits(rate=0)
    for rate in (1e-300, float("inf"), float("nan"), 1e9):
        with pytest.raises(ValueError):
            Limits(rate=rate)
    with pytest.raises(ValueError):
        Limits(max_in_flight=10**6)


async def test_in_flight_never_exceeds_the_limit_under_many_acquirers() -> None:
    budget = LocalBudget(FakeClock())
    limits = Limits(max_in_flight=3, rate=1000)
    active = peak = 0

    async def call() -> None:
        nonlocal active, peak
        permit = await must_acquire(budget, limits)
        active += 1
        peak = max(peak, active)
        for _ in range(20):  # the call is "in flight" across turns of the loop
            await asyncio.sleep(0)
        active -= 1
        await budget.release(permit)

    await asyncio.gather(*(call() for _ in range(50)))
    assert peak == 3  # never more, and the limit is actually used


async def grant_times(limits: Limits, n: int) -> list[float]:
    """When each of ``n`` acquirers, all arriving at once on a FakeClock, got its permit."""
    budget = LocalBudget(FakeClock())
    grants: list[float] = []

    async def call() -> None:
        permit = await must_acquire(budget, limits)
        grants.append(permit.granted_at)
        await budget.release(permit)

    await asyncio.gather(*(call() for _ in range(n)))
    return grants


@pytest.mark.parametrize("rate", [1, 3, 10])
async def test_no_one_second_window_holds_more_than_rate_grants(rate: int) -> None:
    n = 4 * rate + 1
    grants = await grant_times(Limits(max_in_flight=50, rate=rate), n)
    assert busiest_second(grants) == rate
    # ...and no budget is left idle: the grants come as fast as the rate allows.
    assert max(grants) - min(grants) == pytest.approx((n - 1) / rate, abs=0.01 * n)


@pytest.mark.parametrize("rate", [199, 250, 1000])
async def test_a_fast_key_is_served_in_small_bursts_within_the_same_bound(rate: int) -> None:
    grants = await grant_times(Limits(max_in_flight=1000, rate=rate), 3 * rate)
    assert 0.85 * rate <= busiest_second(grants) <= rate  # never more, and most of it used
    largest = max(Counter(grants).values())
    assert largest == max(1, rate // 100)  # 199/s: one at a time; 250/s: two together; 1,000/s: ten


async def test_rate_holds_in_real_time() -> None:
    budget = LocalBudget(SystemClock())
    limits = Limits(max_in_flight=10, rate=20)
    grants: list[float] = []

    async def call() -> None:
        permit = await budget.acquire(KEY, limits, Priority.SUBMIT, max_wait=5)
        assert permit is not None
        grants.append(permit.granted_at)
        await asyncio.sleep(0.01)
        await budget.release(permit)

    started = time.monotonic()
    await asyncio.gather(*(call() for _ in range(22)))
    elapsed = time.monotonic() - started
    assert busiest_second(grants) <= 20
    # Each grant may come a timer tick late (a loaded machine: a few), never a whole slot.
    assert busiest_second(grants) >= 18
    assert 21 / 20 <= elapsed < 21 / 20 + 0.2


async def test_waiters_are_served_by_priority_then_arrival() -> None:
    budget = LocalBudget(FakeClock())
    limits = Limits(max_in_flight=1, rate=1000)
    holder = await must_acquire(budget, limits)
    order: list[str] = []

    async def call(name: str, priority: Priority) -> None:
        permit = await must_acquire(budget, limits, priority)
        order.append(name)
        await budget.release(permit)

    tasks = []
    for name, priority in [
        ("verify-1", Priority.VERIFY),
        ("submit-1", Priority.SUBMIT),
        ("verify-2", Priority.VERIFY),
        ("interactive-1", Priority.INTERACTIVE),
        ("submit-2", Priority.SUBMIT),
        ("interactive-2", Priority.INTERACTIVE),
    ]:
        tasks.append(asyncio.create_task(call(name, priority)))
        await asyncio.sleep(0)  # let it queue before the next one arrives
    await budget.release(holder)
    await asyncio.gather(*tasks)
    assert order == ["interactive-1", "interactive-2", "submit-1", "submit-2", "verify-1", "verify-2"]


async def test_lower_priority_waits_while_higher_waits_for_the_rate() -> None:
    # Permits are free here; only the rate holds work back, and it goes to the most urgent first.
    budget = LocalBudget(SystemClock())
    limits = Limits(max_in_flight=10, rate=20)
    await must_acquire(budget, limits)
    order: list[Priority] = []

    async def call(priority: Priority) -> None:
        await must_acquire(budget, limits, priority)
        order.append(priority)

    await asyncio.gather(*(call(p) for p in (Priority.VERIFY, Priority.SUBMIT, Priority.INTERACTIVE)))
    assert order == [Priority.INTERACTIVE, Priority.SUBMIT, Priority.VERIFY]


async def test_a_released_permit_goes_to_the_waiter_at_once() -> None:
    budget = LocalBudget(SystemClock())
    limits = Limits(max_in_flight=1, rate=1000)
    holder = await must_acquire(budget, limits)
    waiter = asyncio.create_task(budget.acquire(KEY, limits, Priority.VERIFY, max_wait=5))
    await asyncio.sleep(0.05)
    released_at = time.time()
    await budget.release(holder)
    permit = await waiter
    assert permit is not None
    assert permit.granted_at - released_at < 0.01


async def test_max_wait_returns_none_when_saturated() -> None:
    clock = FakeClock()
    budget = LocalBudget(clock)
    limits = Limits(max_in_flight=1, rate=1000)
    holder = await must_acquire(budget, limits)
    assert await budget.acquire(KEY, limits, Priority.INTERACTIVE, max_wait=0) is None
    assert await budget.acquire(KEY, limits, Priority.INTERACTIVE, max_wait=0.02) is None
    await budget.release(holder)
    clock.advance(1)  # past the rate spacing too: a free slot is granted even with max_wait=0
    assert await budget.acquire(KEY, limits, Priority.VERIFY, max_wait=0) is not None


async def test_a_rate_slot_beyond_max_wait_returns_none_without_waiting() -> None:
    clock = FakeClock()
    budget = LocalBudget(clock)
    limits = Limits(max_in_flight=5, rate=1)
    await must_acquire(budget, limits)
    before = clock.now()
    assert await budget.acquire(KEY, limits, Priority.SUBMIT, max_wait=0.5) is None
    assert clock.now() == before  # it did not sleep to the deadline for nothing
    permit = await budget.acquire(KEY, limits, Priority.SUBMIT, max_wait=2)
    assert permit is not None
    assert permit.granted_at - before == pytest.approx(1.0, abs=0.01)


async def test_a_waiter_that_gives_up_or_is_cancelled_does_not_hold_others_back() -> None:
    budget = LocalBudget(FakeClock())
    limits = Limits(max_in_flight=1, rate=1000)
    holder = await must_acquire(budget, limits)
    behind = asyncio.create_task(budget.acquire(KEY, limits, Priority.VERIFY, max_wait=5))
    await asyncio.sleep(0)
    # An urgent waiter queues ahead of it, then gives up; another is cancelled.
    assert await budget.acquire(KEY, limits, Priority.INTERACTIVE, max_wait=0.02) is None
    cancelled = asyncio.create_task(budget.acquire(KEY, limits, Priority.INTERACTIVE, max_wait=5))
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    await budget.release(holder)
    assert await asyncio.wait_for(behind, timeout=1) is not None


async def test_release_is_idempotent() -> None:
    budget = LocalBudget(FakeClock())
    limits = Limits(max_in_flight=2, rate=1000)
    first = await must_acquire(budget, limits)
    await must_acquire(budget, limits)
    await budget.release(first)
    await budget.release(first)  # a second release must not free a second slot
    await must_acquire(budget, limits)
    assert await budget.acquire(KEY, limits, Priority.SUBMIT, max_wait=0) is None


async def test_slow_down_halves_the_throughput_then_recovers() -> None:
    clock = FakeClock()
    budget = LocalBudget(clock, slow_down_seconds=30)
    limits = Limits(max_in_flight=3, rate=4)

    async def throughput(seconds: float) -> int:
        grants = 0
        end = clock.now() + seconds
        while (
            permit := await budget.acquire(KEY, limits, Priority.SUBMIT, max_wait=end - clock.now())
        ) is not None:
            grants += 1
            await budget.release(permit)
        return grants

    normal = await throughput(10)
    await budget.slow_down(KEY)
    slowed = await throughput(10)
    assert normal in (39, 40)
    assert slowed in (19, 20)
    # One permit fewer at once while slowed.
    held = [await must_acquire(budget, limits), await must_acquire(budget, limits)]
    assert await budget.acquire(KEY, limits, Priority.INTERACTIVE, max_wait=0) is None
    for permit in held:
        await budget.release(permit)
    clock.advance(30)
    assert await throughput(10) == normal


async def test_repeated_429s_deepen_the_slow_down_to_an_eighth_but_a_burst_counts_once() -> None:
    clock = FakeClock()
    budget = LocalBudget(clock, slow_down_seconds=30)
    limits = Limits(max_in_flight=3, rate=8)
    assert await gap_between_grants(budget, limits) == pytest.approx(1 / 8, abs=0.002)
    for _ in range(3):  # three calls in flight all answered 429 together
        await budget.slow_down(KEY)
    assert await gap_between_grants(budget, limits) == pytest.approx(1 / 4, abs=0.002)
    for expected in (1 / 2, 1.0, 1.0):
        clock.advance(1)
        await budget.slow_down(KEY)
        assert await gap_between_grants(budget, limits) == pytest.approx(expected, abs=0.002)


async def test_keys_do_not_share_a_budget() -> None:
    budget = LocalBudget(FakeClock())
    limits = Limits(max_in_flight=1, rate=1)
    assert await budget.acquire("eu1:A", limits, Priority.SUBMIT, max_wait=0) is not None
    assert await budget.acquire("us1:B", limits, Priority.SUBMIT, max_wait=0) is not None
    assert await budget.acquire("eu1:A", limits, Priority.SUBMIT, max_wait=0) is None


async def test_budget_from_url_picks_the_mode() -> None:
    local = budget_from_url(None)
    assert isinstance(local, LocalBudget)
    await local.aclose()
    shared = budget_from_url("redis://127.0.0.1:1/0")  # not contacted until used
    assert isinstance(shared, RedisBudget)
    await shared.aclose()


async def test_a_step_that_ends_holding_a_permit_frees_it_at_once() -> None:
    """In one process, a step can only "die" by ending (an exception, a cancellation) without its
    release: the permit goes back with it, and the next caller is served at once."""
    budget = LocalBudget()
    limits = Limits(max_in_flight=1, rate=1000)

    async def crashing_step() -> None:
        await budget.acquire("k", limits, Priority.SUBMIT, max_wait=0)
        raise RuntimeError("a bug between acquire and release")

    with pytest.raises(RuntimeError):
        await asyncio.create_task(crashing_step())
    # (max_wait covers the rate's millisecond; the freed permit wakes this waiter)
    assert await budget.acquire("k", limits, Priority.SUBMIT, max_wait=0.5) is not None
