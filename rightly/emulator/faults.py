"""Faults on demand: latency, 5xx, hangs, malformed bodies, HTTP 200 ``status:"fail"``, drops, and
liars: answers that look like "no such profile" or "accepted" but are not the documented shapes.

Every draw comes from the account's seeded ``random.Random``, so a test that fires the same calls
in the same order sees the same faults. The fault shares are carved out of one uniform draw in the
order of ``FaultKind`` (drop, hang, 5xx, malformed, fail200, liar), so each rate is the share of answers
that get that fault as long as the rates add up to at most 1.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum


class FaultKind(StrEnum):
    DROP = "drop"  # the operation runs, then the connection closes mid-answer
    HANG = "hang"  # the answer is held for hang_seconds (past any sane client timeout)
    ERROR_5XX = "5xx"  # HTTP 500/503, the operation does not run
    MALFORMED = "malformed"  # the real answer, truncated: not valid JSON
    FAIL200 = "fail200"  # HTTP 200 with status "fail" (clevertap-api.md §3), the operation does not run
    LIAR = "liar"  # HTTP 200 that resembles "not found" / "accepted" but is not (LIAR_*); nothing runs


# What a stub or a misbehaving proxy in front of CleverTap has been seen to answer (issue 14): each
# looks like "no such profile" (a lookup) or "accepted" (a deletion) to loose reading, none is one of
# the documented shapes (clevertap-api.md §5, §7). Rightly must never read them as a result.
LIAR_LOOKUPS: tuple[dict[str, object], ...] = (
    {"status": "fail", "error": "Profile store not found on this node, please try again"},
    {"status": "fail", "error": "Account does not exist"},
    {"status": "success"},
    {"status": "success", "record": {}},
    {"status": "fail", "error": "User not found", "code": 503},
    {"status": "fail", "error": "User not found. Please try again later"},
    {"status": "success", "record": None, "error": "index rebuilding, try again"},
)
LIAR_DELETES: tuple[dict[str, object], ...] = (
    {"status": "success", "unprocessed": [{"status": "fail", "code": 500, "error": "try again"}]},
    {"status": "success", "error": "queued on a node that is down"},
    {"status": "Success"},
)


@dataclass
class Faults:
    """What an account's answers suffer. Mutable: tests switch single attributes on and off."""

    latency_ms: tuple[float, float] = (0.0, 0.0)  # uniform between (low, high) milliseconds
    error_5xx_rate: float = 0.0
    hang_rate: float = 0.0
    hang_seconds: float = 30.0
    malformed_rate: float = 0.0
    fail200_rate: float = 0.0
    drop_rate: float = 0.0
    liar_rate: float = 0.0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        low, high = self.latency_ms
        if low < 0 or high < low:
            raise ValueError(f"latency_ms must be (low, high) with 0 <= low <= high, got {self.latency_ms}")
        for name, rate in self._rates():
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {rate}")
        if self.hang_seconds < 0:
            raise ValueError(f"hang_seconds must be >= 0, got {self.hang_seconds}")

    def _rates(self) -> list[tuple[str, float]]:
        return [
            ("drop_rate", self.drop_rate),
            ("hang_rate", self.hang_rate),
            ("error_5xx_rate", self.error_5xx_rate),
            ("malformed_rate", self.malformed_rate),
            ("fail200_rate", self.fail200_rate),
            ("liar_rate", self.liar_rate),
        ]

    def latency(self, rng: random.Random) -> float:
        """Seconds of simulated network time for one answer."""
        low, high = self.latency_ms
        if high <= 0:
            return 0.0
        return rng.uniform(low, high) / 1000.0

    def pick(self, rng: random.Random) -> FaultKind | None:
        """The fault for one answer, or None for a clean answer."""
        rates = self._rates()
        if not any(rate for _, rate in rates):
            return None
        draw = rng.random()
        threshold = 0.0
        for kind, (_, rate) in zip(FaultKind, rates, strict=True):
            threshold += rate
            if draw < threshold:
                return kind
        return None
