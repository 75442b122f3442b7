"""Backoff for retryable failures: exponential with full jitter, bounded attempts."""

from __future__ import annotations

import random

BASE_SECONDS = 2.0
CAP_SECONDS = 15 * 60.0
MAX_ATTEMPTS = 10  # about an hour and a half of retrying before a task errors with the last reason
BUSY_SECONDS = 0.25  # no budget free right now: come back soon, not counted as a failure


def backoff(attempt: int, rng: random.Random | None = None) -> float:
    """Seconds before retry number ``attempt`` (1-based): between half and all of base·2^(n-1), capped."""
    ceiling = min(CAP_SECONDS, BASE_SECONDS * 2 ** max(0, attempt - 1))
    r = (rng or random).random()
    return ceiling * (0.5 + 0.5 * r)
