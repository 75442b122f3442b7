"""The in-process call budget of the embedded mode: one event loop, no I/O.

The contract (two limits per key, strict priority, slowing down after a 429) is in
``rightly.http.permits``; read that module first. A permit lives as long as the task that acquired
it: one that ends without releasing it (a crash inside a step) frees it at once, so a dead step never
holds the account's budget (in one process there is no other way to die and keep a permit). ``rightly.http.redis_budget`` holds the budget
shared by many worker processes, and ``rightly.http.budgets.budget_from_url`` picks one.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import logging
from dataclasses import dataclass, field

from rightly.domain.clock import Clock, SystemClock
from rightly.domain.enums import Priority
from rightly.http.permits import (
    ESCALATE_AFTER,
    MAX_SLOW_LEVEL,
    Budget,
    Limits,
    Permit,
    new_token,
    pacing,
    slowed,
)

log = logging.getLogger(__name__)

# Limits, Permit and Budget were defined here before rightly.http.permits; importers still find them.
__all__ = ["Budget", "Limits", "LocalBudget", "Permit"]


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
        permit = Permit(key=key, token=token, priority=priority, granted_at=now)
        owner = asyncio.current_task()
        if owner is not None:  # a task that ends without releasing its permit frees it at once
            owner.add_done_callback(lambda _: self._orphaned(permit))
        return permit

    def _orphaned(self, permit: Permit) -> None:
        state = self._keys.get(permit.key)
        if state is not None and permit.token in state.in_flight:
            log.warning("a task ended holding a call permit for %s; releasing it", permit.key)
            state.in_flight.discard(permit.token)
            state.notify()

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
