"""Request limits per account: concurrency per API, and an optional requests-per-second cap.

clevertap-api.md §4: CleverTap enforces *concurrent*-request limits per account and per API
(3 for most APIs, 15 for uploads) and answers 429 "Too many concurrent requests". DESIGN.md adds
the integration's stated 3 requests per second; when an account has a ``rate``, more than ``rate``
admitted requests in any one-second window (sliding, on the emulator's clock) also get a 429.
The rate covers the DSR APIs (profile, delete, connect) together; uploads stand for the app's own
SDK traffic and only have their concurrency limit. Refused requests do not fill the window.
"""

from __future__ import annotations

from collections import Counter, deque

from rightly.emulator.accounts import Account
from rightly.emulator.stats import Stats

RATED_ENDPOINTS = frozenset({"profile", "delete", "connect"})
WINDOW_SECONDS = 1.0


class Limits:
    def __init__(self, stats: Stats) -> None:
        self._stats = stats
        self._in_flight: Counter[tuple[str, str]] = Counter()
        self._in_flight_by_account: Counter[str] = Counter()
        self._admitted: dict[str, deque[float]] = {}

    def in_flight(self, project_id: str, endpoint: str | None = None) -> int:
        if endpoint is None:
            return self._in_flight_by_account[project_id]
        return self._in_flight[(project_id, endpoint)]

    def try_enter(self, account: Account, endpoint: str, now: float) -> bool:
        """Admit one request, or refuse it (the caller answers 429)."""
        pid = account.project_id
        key = (pid, endpoint)
        if self._in_flight[key] >= account.max_in_flight_for(endpoint):
            return False
        if account.rate is not None and endpoint in RATED_ENDPOINTS:
            window = self._admitted.setdefault(pid, deque())
            while window and window[0] <= now - WINDOW_SECONDS:
                window.popleft()
            if len(window) + 1 > account.rate:
                return False
            window.append(now)
        self._in_flight[key] += 1
        self._in_flight_by_account[pid] += 1
        stats = self._stats
        stats.peak_in_flight_by_endpoint[key] = max(
            stats.peak_in_flight_by_endpoint[key], self._in_flight[key]
        )
        stats.peak_in_flight[pid] = max(stats.peak_in_flight[pid], self._in_flight_by_account[pid])
        return True

    def leave(self, account: Account, endpoint: str) -> None:
        self._in_flight[(account.project_id, endpoint)] -= 1
        self._in_flight_by_account[account.project_id] -= 1
