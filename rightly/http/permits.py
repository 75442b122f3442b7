"""The call budget's contract, and what every budget shares: ``Limits``, ``Permit``, pacing.

Every CleverTap call acquires a permit before it is sent and releases it after. The ``Budget``
protocol below is implemented by ``rightly.http.budget.LocalBudget`` (in-process) and
``rightly.http.redis_budget.RedisBudget`` (shared by many workers); ``rightly.http.budgets``
picks one for the configured mode.

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
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Protocol

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


MIN_IN_FLIGHT, MAX_IN_FLIGHT = 1, 1000
MIN_RATE, MAX_RATE = 0.01, 100_000.0


@dataclass(frozen=True)
class Limits:
    """What one key may do: calls at once, and calls per second."""

    max_in_flight: int = 3
    rate: float = 3.0  # calls per second

    def __post_init__(self) -> None:
        if not MIN_IN_FLIGHT <= self.max_in_flight <= MAX_IN_FLIGHT:
            raise ValueError(
                f"max_in_flight must be {MIN_IN_FLIGHT} to {MAX_IN_FLIGHT}, not {self.max_in_flight}"
            )
        # (NaN fails both comparisons; an infinite or vanishing rate would break the pacing arithmetic)
        if not MIN_RATE <= self.rate <= MAX_RATE:
            raise ValueError(f"rate must be {MIN_RATE} to {MAX_RATE:g} calls per second, not {self.rate}")


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
