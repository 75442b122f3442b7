"""What the emulator saw, for tests and benchmarks.

Keys are ``(project_id, endpoint)`` with endpoint one of ``ENDPOINTS``; a call without an
Account-Id header counts under project id ``""``. Counters return 0 for keys never seen.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

ENDPOINTS = ("profile", "delete", "upload", "connect")


@dataclass(frozen=True)
class DeletionRecord:
    """One accepted ``POST /1/delete/profiles.json``: the values as sent, and when."""

    project_id: str
    time: float
    identity: list[str] | None
    guid: list[str] | None
    matched: int  # profiles marked by this submission (unknown ids simply match nothing)

    def __getitem__(self, key: str) -> Any:  # also readable as a mapping: record["identity"]
        return getattr(self, key)


@dataclass
class Stats:
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    throttled: Counter[tuple[str, str]] = field(default_factory=Counter)  # 429s served
    responses: Counter[tuple[str, str, int]] = field(default_factory=Counter)  # (pid, endpoint, HTTP status)
    faults: Counter[tuple[str, str]] = field(default_factory=Counter)  # (pid, FaultKind value)
    abandoned: Counter[tuple[str, str]] = field(default_factory=Counter)  # the client left mid-call
    peak_in_flight: Counter[str] = field(default_factory=Counter)
    peak_in_flight_by_endpoint: Counter[tuple[str, str]] = field(default_factory=Counter)
    deletions: list[DeletionRecord] = field(default_factory=list)

    def reset(self) -> None:
        self.calls.clear()
        self.throttled.clear()
        self.responses.clear()
        self.faults.clear()
        self.abandoned.clear()
        self.peak_in_flight.clear()
        self.peak_in_flight_by_endpoint.clear()
        self.deletions.clear()

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly snapshot (``GET /_emulator/stats`` serves it to out-of-process benchmarks)."""

        def nested(counter: Counter[tuple[str, str]]) -> dict[str, dict[str, int]]:
            out: dict[str, dict[str, int]] = {}
            for (pid, name), count in counter.items():
                out.setdefault(pid, {})[name] = count
            return out

        statuses: dict[str, dict[str, dict[str, int]]] = {}
        for (pid, endpoint, status), count in self.responses.items():
            statuses.setdefault(pid, {}).setdefault(endpoint, {})[str(status)] = count
        return {
            "calls": nested(self.calls),
            "throttled": nested(self.throttled),
            "responses": statuses,
            "faults": nested(self.faults),
            "abandoned": nested(self.abandoned),
            "peak_in_flight": dict(self.peak_in_flight),
            "peak_in_flight_by_endpoint": nested(self.peak_in_flight_by_endpoint),
            "deletions": [asdict(d) for d in self.deletions],
        }
