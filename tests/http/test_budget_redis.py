"""RedisBudget: one budget per account shared by worker processes, checked from the outside.

Each ``RedisBudget`` instance stands for one worker process; one test starts a real second process.
Grant times are the Redis server's (``Permit.granted_at``), the clock every decision is made on.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import os
import random
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from redis.asyncio import Redis

from rightly.domain.enums import Priority
from rightly.http.permits import Limits, Permit
from rightly.http.redis_budget import RedisBudget, budget_keys

pytestmark = pytest.mark.redis

KEY = "eu1:TEST-123"
MakeBudget = Callable[..., RedisBudget]


def busiest_second(times: list[float]) -> int:
    """The most grants in any closed 1-second window (the busiest window starts at some grant)."""
    times = sorted(times)
    return max(bisect.bisect_right(times, t + 1.0) - i for i, t in enumerate(times))


async def hammer(
    budget: RedisBudget, counter: Redis, counter_key: str, limits: Limits, calls: list[tuple[float, float]]
) -> tuple[list[float], int]:
    """Make the calls, given as (seconds from now it arrives, seconds it holds its permit).

    Returns the grant times and the most calls seen in flight. The in-flight count lives in Redis
    (INCR after the grant, DECR before the release) so that it counts the calls of every process,
    and never more than the permits really held.
    """
    grants: list[float] = []
    peak = 0

    async def call(arrival: float, hold: float) -> None:
        nonlocal peak
        await asyncio.sleep(arrival)
        permit = await budget.acquire(KEY, limits, Priority.SUBMIT, max_wait=30)
        assert permit is not None
        grants.append(permit.granted_at)
        try:
            peak = max(peak, await counter.incr(counter_key))
            await asyncio.sleep(hold)
            await counter.decr(counter_key)
        finally:
            await budget.release(permit)

    await asyncio.gather(*(call(arrival, hold) for arrival, hold in calls))
    return grants, peak


@pytest.fixture
async def make_budget(redis_url: str, redis_prefix: str) -> AsyncIterator[MakeBudget]:
    made: list[RedisBudget] = []

    def make(**kwargs: float) -> RedisBudget:
        budget = RedisBudget(redis_url, prefix=redis_prefix, **kwargs)
        made.append(budget)
        return budget

    yield make
    for budget in made:
        await budget.aclose()


@pytest.fixture
async def counter(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def must_acquire(budget: RedisBudget, limits: Limits, priority: Priority = Priority.SUBMIT) -> Permit:
    permit = await budget.acquire(KEY, limits, priority, max_wait=5)
    assert permit is not None
    return permit


async def test_two_workers_never_exceed_the_joint_in_flight_limit(
    make_budget: MakeBudget, counter: Redis, redis_prefix: str
) -> None:
    limits = Limits(max_in_flight=3, rate=500)
    results = await asyncio.gather(
        *(hammer(make_budget(), counter, redis_prefix + "active", limits, [(0, 0.05)] * 12) for _ in range(2))
    )
    assert max(peak for _, peak in results) == 3


async def test_workers_in_two_processes_share_one_budget(
    make_budget: MakeBudget, counter: Redis, redis_url: str, redis_prefix: str
) -> None:
    """Two RedisBudgets here and a third in a real second OS process: rate and in-flight hold jointly."""
    limits = Limits(max_in_flight=3, rate=30)
    rng = random.Random(7)
    # Each worker's calls arrive over 0.4 s, together faster than the rate, so the three workers'
    # queues mix; holds around 0.1 s make both limits bite (3 permits / 0.1 s is about the rate).
    calls = [[(i / 30, rng.uniform(0, 0.2)) for i in range(11)] for _ in range(3)]
    counter_key = redis_prefix + "active"
    child_code = (
        "import asyncio, json, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from redis.asyncio import Redis\n"
        "from test_budget_redis import hammer\n"
        "from rightly.http.permits import Limits\n"
        "from rightly.http.redis_budget import RedisBudget\n"
        "url, prefix, counter_key, limits, calls = json.loads(sys.argv[1])\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n"
        "async def main():\n"
        "    budget, counter = RedisBudget(url, prefix=prefix), Redis.from_url(url)\n"
        "    grants, peak = await hammer(budget, counter, counter_key, Limits(*limits), calls)\n"
        "    await budget.aclose(); await counter.aclose()\n"
        "    print(json.dumps([grants, peak]))\n"
        "asyncio.run(main())\n"
    )
    args = json.dumps([redis_url, redis_prefix, counter_key, [limits.max_in_flight, limits.rate], calls[2]])
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        child_code,
        args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    assert child.stdout is not None
    ready = await asyncio.wait_for(child.stdout.readline(), timeout=20)
    assert ready == b"ready\n"
    # Start together: the child on "go", this process at once.
    here = [hammer(make_budget(), counter, counter_key, limits, own) for own in calls[:2]]
    (*mine, (out, err)) = await asyncio.gather(*here, child.communicate(b"go\n"))
    assert child.returncode == 0, err.decode()
    child_grants, child_peak = json.loads(out)

    grants = [t for own, _ in mine for t in own] + child_grants
    assert len(grants) == 33
    assert busiest_second(grants) <= 30
    assert max([child_peak] + [peak for _, peak in mine]) <= 3
    # The child's calls were interleaved with ours, not run before or after them.
    own = sorted(t for g, _ in mine for t in g)
    assert own[0] < max(child_grants) and min(child_grants) < own[-1]


async def test_two_workers_use_the_whole_rate(make_budget: MakeBudget) -> None:
    # The process test above shows no window exceeds the rate; this one that none is left idle.
    limits = Limits(max_in_flight=10, rate=20)
    grants: list[float] = []

    async def worker(budget: RedisBudget) -> None:
        async def call() -> None:
            permit = await must_acquire(budget, limits)
            grants.append(permit.granted_at)
            await budget.release(permit)

        await asyncio.gather(*(call() for _ in range(6)))

    await asyncio.gather(worker(make_budget()), worker(make_budget()))
    # 12 grants 1/20 s apart take 11/20 s. Each may come a round trip and a timer tick late (more
    # on a loaded machine), but never a whole idle slot (a missed release would cost a poll).
    assert 11 / 20 <= max(grants) - min(grants) < 11 / 20 + 0.15


async def test_waiters_are_served_by_priority_then_arrival_across_workers(make_budget: MakeBudget) -> None:
    one, two = make_budget(), make_budget()
    limits = Limits(max_in_flight=1, rate=1000)
    holder = await must_acquire(one, limits)
    order: list[str] = []

    async def call(budget: RedisBudget, name: str, priority: Priority) -> None:
        permit = await must_acquire(budget, limits, priority)
        order.append(name)
        await budget.release(permit)

    tasks = []
    for budget, name, priority in [
        (two, "verify-1", Priority.VERIFY),
        (one, "submit-1", Priority.SUBMIT),
        (two, "verify-2", Priority.VERIFY),
        (one, "interactive-1", Priority.INTERACTIVE),
        (two, "submit-2", Priority.SUBMIT),
        (two, "interactive-2", Priority.INTERACTIVE),
    ]:
        tasks.append(asyncio.create_task(call(budget, name, priority)))
        await asyncio.sleep(0.01)  # its first attempt has queued it before the next one arrives
    await one.release(holder)
    await asyncio.gather(*tasks)
    assert order == ["interactive-1", "interactive-2", "submit-1", "submit-2", "verify-1", "verify-2"]


async def test_max_wait_returns_none_when_saturated(make_budget: MakeBudget) -> None:
    budget = make_budget()
    limits = Limits(max_in_flight=1, rate=1000)
    holder = await must_acquire(budget, limits)
    assert await budget.acquire(KEY, limits, Priority.INTERACTIVE, max_wait=0) is None
    started = time.monotonic()
    assert await budget.acquire(KEY, limits, Priority.INTERACTIVE, max_wait=0.1) is None
    assert 0.1 <= time.monotonic() - started < 0.3
    # The urgent waiters that gave up left the queue: the least urgent one is not held back.
    await budget.release(holder)
    assert await budget.acquire(KEY, limits, Priority.VERIFY, max_wait=0.05) is not None


async def test_a_rate_slot_beyond_max_wait_returns_none_without_waiting(make_budget: MakeBudget) -> None:
    budget = make_budget()
    limits = Limits(max_in_flight=5, rate=1)
    await must_acquire(budget, limits)
    started = time.monotonic()
    assert await budget.acquire(KEY, limits, Priority.SUBMIT, max_wait=0.5) is None
    assert time.monotonic() - started < 0.1


async def test_a_cancelled_waiter_leaves_the_queue(make_budget: MakeBudget) -> None:
    budget = make_budget()
    limits = Limits(max_in_flight=1, rate=1000)
    holder = await must_acquire(budget, limits)
    urgent = asyncio.create_task(budget.acquire(KEY, limits, Priority.INTERACTIVE, max_wait=5))
    await asyncio.sleep(0.05)
    urgent.cancel()
    with pytest.raises(asyncio.CancelledError):
        await urgent
    await budget.release(holder)
    assert await budget.acquire(KEY, limits, Priority.VERIFY, max_wait=0.05) is not None


async def test_permits_of_a_crashed_worker_expire(make_budget: MakeBudget) -> None:
    crashed, alive = make_budget(lease=0.2), make_budget()
    limits = Limits(max_in_flight=1, rate=1000)
    lost = await must_acquire(crashed, limits)  # never released
    await crashed.aclose()
    assert await alive.acquire(KEY, limits, Priority.SUBMIT, max_wait=0.05) is None
    reclaimed = await alive.acquire(KEY, limits, Priority.SUBMIT, max_wait=1)
    assert reclaimed is not None
    assert 0.2 <= reclaimed.granted_at - lost.granted_at < 0.3
    await alive.release(lost)  # releasing an expired permit is harmless


async def test_release_is_idempotent(make_budget: MakeBudget) -> None:
    budget = make_budget()
    limits = Limits(max_in_flight=2, rate=1000)
    first = await must_acquire(budget, limits)
    await must_acquire(budget, limits)
    await budget.release(first)
    await budget.release(first)
    await must_acquire(budget, limits)
    assert await budget.acquire(KEY, limits, Priority.SUBMIT, max_wait=0.05) is None


async def test_slow_down_halves_the_throughput_for_a_while(
    make_budget: MakeBudget, redis_url: str, redis_prefix: str
) -> None:
    budget, other_worker = make_budget(slow_down_seconds=0.5), make_budget(slow_down_seconds=0.5)
    limits = Limits(max_in_flight=3, rate=25)
    slow_key = budget_keys(redis_prefix, KEY)["slow"]

    async def mean_gap(n: int = 4) -> float:
        times = []
        for _ in range(n):
            permit = await must_acquire(budget, limits)
            times.append(permit.granted_at)
            await budget.release(permit)
        return (times[-1] - times[0]) / (n - 1)

    normal = await mean_gap()
    for _ in range(3):  # calls in flight together all answered 429: one burst, one step
        await other_worker.slow_down(KEY)
    async with Redis.from_url(redis_url) as client:
        assert 0 < await client.pttl(slow_key) <= 500  # the slow-down is a key with a TTL
        slowed = await mean_gap()
        # Half the rate: each gap grows by one full 1/rate (round trips sit in both).
        assert slowed >= 2 / 25
        assert slowed - normal == pytest.approx(1 / 25, abs=0.012)
        # One permit fewer at once while slowed.
        held = [await must_acquire(budget, limits), await must_acquire(budget, limits)]
        assert await budget.acquire(KEY, limits, Priority.INTERACTIVE, max_wait=0) is None
        for permit in held:
            await budget.release(permit)
        # Once it lapses, full speed again.
        while await client.exists(slow_key):
            await asyncio.sleep(0.02)
    assert await mean_gap() == pytest.approx(normal, abs=0.008)


async def test_a_killed_process_frees_its_permits_within_its_lease(
    make_budget: MakeBudget, redis_url: str, redis_prefix: str
) -> None:
    """Issue 14 (4): a worker killed with SIGKILL while holding every permit of an account. Alive, it
    keeps them (it renews their short leases while its calls run); dead, they are free again within
    one lease (1 s here, 3 s by default), not after a TTL as long as the slowest call."""
    limits = Limits(max_in_flight=3, rate=1000)
    child_code = (
        "import asyncio, json, sys\n"
        "from rightly.domain.enums import Priority\n"
        "from rightly.http.permits import Limits\n"
        "from rightly.http.redis_budget import RedisBudget\n"
        "url, prefix, key = json.loads(sys.argv[1])\n"
        "async def main():\n"
        "    budget = RedisBudget(url, prefix=prefix, lease=1.0)\n"
        "    async def call():\n"
        "        permit = await budget.acquire(key, Limits(3, 1000), Priority.SUBMIT, max_wait=10)\n"
        "        assert permit is not None\n"
        "        await asyncio.sleep(3600)  # a call that is still running when the process dies\n"
        "    calls = [asyncio.create_task(call()) for _ in range(3)]\n"
        "    while len(budget._held) < 3: await asyncio.sleep(0.01)\n"
        "    print('held', flush=True)\n"
        "    await asyncio.gather(*calls)\n"
        "asyncio.run(main())\n"
    )
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        child_code,
        json.dumps([redis_url, redis_prefix, KEY]),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        assert await asyncio.wait_for(child.stdout.readline(), timeout=30) == b"held\n"
        budget = make_budget()
        # Two and a half leases later the permits are still held: renewed, not lapsed.
        assert await budget.acquire(KEY, limits, Priority.INTERACTIVE, max_wait=2.5) is None
        child.kill()  # SIGKILL: no release, no clean-up
        await child.wait()
        # Within one lease (and a poll) the dead worker's permits are free again.
        permit = await budget.acquire(KEY, limits, Priority.INTERACTIVE, max_wait=1.5)
        assert permit is not None
        held = [permit] + [await must_acquire(budget, limits) for _ in range(2)]
        assert len(held) == 3
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()


async def test_a_task_that_ends_holding_a_permit_frees_it_at_once(make_budget: MakeBudget) -> None:
    budget = make_budget()
    limits = Limits(max_in_flight=1, rate=1000)

    async def careless() -> None:
        await must_acquire(budget, limits)  # and never released

    await asyncio.create_task(careless())
    permit = await budget.acquire(KEY, limits, Priority.SUBMIT, max_wait=0.5)
    assert permit is not None
