"""Which budget a process runs with: shared through Redis, or in-process."""

from __future__ import annotations

from rightly.domain.clock import Clock
from rightly.http.budget import LocalBudget
from rightly.http.permits import Budget


def budget_from_url(redis_url: str | None, clock: Clock | None = None) -> Budget:
    """The budget for the configured mode: shared through Redis, or in-process without a URL."""
    if not redis_url:
        return LocalBudget(clock)
    from rightly.http.redis_budget import RedisBudget  # only the scaled-out mode pays for redis-py

    return RedisBudget(redis_url, clock)
