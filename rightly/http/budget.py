"""The call budget: every CleverTap call acquires a permit before it is sent and releases it after.

A budget is kept per key (a CleverTap account, ``"<region>:<project_id>"``) and enforces two limits
(DESIGN.md, "Budget"):

* at most ``max_in_flight`` permits outstanding at once (CleverTap's concurrency limit), and
* at most ``rate`` grants per second in any sliding 1-second window. Grants are spaced at least
  ``1/rate`` apart (GCRA with a burst of one), so an integer rate can never put rate+1 grants into
  one window, however the window is placed. Above 200 calls per second (far above CleverTap's 3)
  ``LocalBudget`` lets ``rate // 100`` grants come together, at correspondingly wider spacing
  (``pacing``): the same bound on every window, one wake-up per burst instead of one per call.

Waiters are served strictly by priority (``Priority.INTERACTIVE`` before ``SUBMIT`` before
``VERIFY``) and first come, first served within a priority: while a more urgent acquirer waits on a
key, a less urgent one is not granted, even if a slot is free for it.

After a 429 the caller calls ``slow_down(key)``: for ``slow_down_seconds`` the key runs at half its
rate and one permit fewer (at least one). Another 429 while slowed extends the window and, once
per second at most, deepens it one level (rate/4, rate/8, and no lower): 429s arriving together come
from calls that were already in flight when CleverTap pushed back, so they count once.

``LocalBudget`` is the in-process budget of the embedded mode; ``rightly.http.redis_budget``
holds the shared one for many worker processes.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import secrets
from dataclasses import dataclass, field
from typing import Protocol

from rightly.domain.clock import Clock, SystemClock
from rightly.domain.enums import Priority

# Grants exactly 1/rate apart would put rate+1 grants into a *closed* 1-second window, and float
# rounding or network jitter can shave the gap further; one millisecond more keeps every window at
# `rate` or fewer. Above 100 calls per second the margin shrinks to a tenth of the gap, so a fast
# vendor's budget is not cut by the margin itself (a fixed millisecond would halve 1,000 per second).
EDGE_MARGIN = 0.001


def edge_margin(rate: float) -> float:
    return min(EDGE_MARGIN, 0.1 / rate)


# Above this many calls per second, grants may come in bursts: one more per this many calls/second.
BURST_STEP = 100


def pacing(rate: float) -> tuple[float, float]:
    """GCRA for ``rate``: (the spacing between grants, how far ahead of it a burst may run).

    A burst of ``k`` means grants at spacing ``T`` with tolerance ``(k-1)*T``: any closed 1-second
    window then holds at most ``floor(1/T) + k`` grants, so ``T`` is just over ``1/(rate-k+1)``
    and the bound stays ``rate``. Below 2*BURST_STEP calls per second ``k`` is 1: plain spacing."""
    burst = max(1, int(rate // BURST_STEP))
    spacing = 1.0 / (rate - burst + 1) + edge_margin(rate)
    return spacing, (burst - 1) * spacing


# Each 429 while slowed halves the rate once more, down to rate / 2**MAX_SLOW_LEVEL.
MAX_SLOW_LEVEL = 3
# 429s within this many seconds of the last deepening are the same burst: they only extend.
ESCALATE_AFTER = 1.0


@dataclass(frozen=True)
class Limits:
    """What one key may do: calls at once, and calls per second."""

    max_in_flight: int = 3
    rate: float = 3.0  # calls per second

    def __post_init__(self) -> None:
        if self.max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, not {self.max_in_flight}")
        if not self.rate > 0:
            raise ValueError(f"rate must be positive, not {self.rate}")


@dataclass(frozen=True)
class Permit:
    """A granted slot; hand it back to ``Budget.release`` once the call is answered."""

    key: str
    token: str
    priority: Priority
    granted_at: float  # epoch seconds; the Redis server's time for RedisBudget


class Budget(Protocol):
    async def acquire(
        self, key: str, limits: Limits, priority: Priority, *, max_wait: float
    ) -> Permit | None:
        """Wait up to ``max_wait`` seconds for a slot; None if it could not be had in time.

        The caller then reschedules its task instead of waiting longer: steps never block for long.
        ``max_wait=0`` tries once. A wait that cannot end in time (the next rate slot lies beyond
        the deadline) returns None at once rather than sleeping to the deadline.
        """
        ...

    async def release(self, permit: Permit) -> None:
        """Hand the slot back. Idempotent; releasing an expired or unknown permit does nothing."""
        ...

    async def slow_down(self, key: str) -> None:
        """Called after a 429: for a while the key runs at half its rate and max_in_flight-1
        (at least 1); repeated 429s extend and deepen it (down to rate/8)."""
        ...

    async def aclose(self) -> None: ...


def slowed(limits: Limits, level: int) -> tuple[int, float]:
    """The (max_in_flight, rate) a key runs at after ``level`` steps of slow-down."""
    level = max(0, min(level, MAX_SLOW_LEVEL))
    return max(1, limits.max_in_flight - level), limits.rate / 2**level


def new_token() -> str:
    return secrets.token_hex(12)


@dataclass(eq=False)  # compared by identity: finding one in the queue must not compare fields
class _Waiter:
    priority: int
    seq: int
    # Settled whenever the key's state changes (a grant, a release, a waiter leaving, a slow-down).
    changed: asyncio.Future[None]


def _queue_order(waiter: _Waiter) -> tuple[int, int]:
    return waiter.priority, waiter.seq


@dataclass
class _KeyState:
    in_flight: set[str] = field(default_factory=set)
    next_slot: float | None = None  # GCRA's theoretical arrival time: the next grant's slot
    waiters: list[_Waiter] = field(default_factory=list)  # sorted: the head is served next
    slow_level: int = 0
    slow_until: float = 0.0
    escalated_at: float = 0.0

    def notify(self) -> None:
        # Only the head of the queue can be granted next; waking everyone on every change made
        # each grant cost O(waiters) wake-ups (hundreds of waiters under load).
        if self.waiters:
            _wake(self.waiters[0])


def _wake(waiter: _Waiter) -> None:
    if not waiter.changed.done():
        waiter.changed.set_result(None)


class LocalBudget:
    """The in-process budget: one event loop, no I/O.

    Only the waiter at the head of a key's queue sleeps for the rate (on the injected clock); the
    others wait on an event that every change of the key's state sets, so a released permit goes to
    the next waiter at once, without polling. ``max_wait`` bounds the wait both on the injected
    clock and in the event loop's real time, whichever ends first: the two agree for
    ``SystemClock``, and under ``FakeClock`` (where time moves only when something sleeps) a wait
    for a release that never comes still ends.
    """

    def __init__(self, clock: Clock | None = None, slow_down_seconds: float = 30.0) -> None:
        self.clock: Clock = clock or SystemClock()
        self.slow_down_seconds = slow_down_seconds
        self._keys: dict[str, _KeyState] = {}
        self._seq = itertools.count()

    def _state(self, key: str) -> _KeyState:
        state = self._keys.get(key)
        if state is None:
            state = self._keys[key] = _KeyState()
        return state

    def _level(self, state: _KeyState, now: float) -> int:
        return state.slow_level if now < state.slow_until else 0

    def _wait_needed(self, state: _KeyState, limits: Limits, now: float) -> float | None:
        """Seconds until the head may be granted: 0 now, None while no permit is free."""
        max_in_flight, rate = slowed(limits, self._level(state, now))
        if len(state.in_flight) >= max_in_flight:
            return None
        if state.next_slot is None:
            return 0.0
        _, tolerance = pacing(rate)
        # A burst's slots are sums of floats the size of epoch seconds (each rounded to ~0.2 µs):
        # 10 µs of slack keeps a burst whole, and is far inside the edge margin.
        if state.next_slot - tolerance - now <= 1e-5:
            return 0.0
        # Once anyone must wait, wait until a whole burst is free: one wake-up serves the burst.
        return state.next_slot - now

    def _grant(self, state: _KeyState, limits: Limits, key: str, priority: Priority, now: float) -> Permit:
        token = new_token()
        state.in_flight.add(token)
        spacing, _ = pacing(slowed(limits, self._level(state, now))[1])
        state.next_slot = max(state.next_slot or now, now) + spacing
        return Permit(key=key, token=token, priority=priority, granted_at=now)

    async def acquire(
        self, key: str, limits: Limits, priority: Priority, *, max_wait: float
    ) -> Permit | None:
        state = self._state(key)
        now = self.clock.now()
        if not state.waiters and self._wait_needed(state, limits, now) == 0.0:
            return self._grant(state, limits, key, priority, now)  # nobody ahead and a slot free: no queue
        loop = asyncio.get_running_loop()
        deadline = now + max_wait
        real_deadline = loop.time() + max_wait
        me = _Waiter(int(priority), next(self._seq), loop.create_future())
        bisect.insort(state.waiters, me, key=_queue_order)
        # One timer for the whole wait (not one per wake-up): it ends the wait at the deadline.
        expiry = loop.call_at(real_deadline, _wake, me)
        try:
            while True:
                now = self.clock.now()
                head = state.waiters[0] is me
                wait = self._wait_needed(state, limits, now) if head else None
                if wait == 0.0:
                    state.waiters.pop(0)
                    return self._grant(state, limits, key, priority, now)
                remaining = min(deadline - now, real_deadline - loop.time())
                if remaining <= 0 or (wait is not None and wait > remaining):
                    return None
                if wait is not None:
                    await self.clock.sleep(wait)
                    continue
                if me.changed.done():
                    me.changed = loop.create_future()
                if head and self._level(state, now):
                    # The end of a slow-down frees a permit without anyone releasing one.
                    slow_end = loop.call_later(state.slow_until - now, _wake, me)
                    try:
                        await me.changed
                    finally:
                        slow_end.cancel()
                else:
                    await me.changed
        finally:
            expiry.cancel()
            # Granted, timed out or cancelled: either way the next waiter may now be the head.
            if me in state.waiters:
                state.waiters.remove(me)
            state.notify()

    async def release(self, permit: Permit) -> None:
        state = self._keys.get(permit.key)
        if state is None or permit.token not in state.in_flight:
            return
        state.in_flight.discard(permit.token)
        state.notify()

    async def slow_down(self, key: str) -> None:
        state = self._state(key)
        now = self.clock.now()
        level = self._level(state, now)
        if level == 0:
            state.slow_level, state.escalated_at = 1, now
        elif level < MAX_SLOW_LEVEL and now - state.escalated_at >= ESCALATE_AFTER:
            state.slow_level, state.escalated_at = level + 1, now
        state.slow_until = now + self.slow_down_seconds
        state.notify()

    async def aclose(self) -> None:
        self._keys.clear()


def budget_from_url(redis_url: str | None, clock: Clock | None = None) -> Budget:
    """The budget for the configured mode: shared through Redis, or in-process without a URL."""
    if not redis_url:
        return LocalBudget(clock)
    from rightly.http.redis_budget import RedisBudget  # only the scaled-out mode pays for redis-py

    return RedisBudget(redis_url, clock)
