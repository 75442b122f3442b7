"""The incumbent way, as DataGrail and public CleverTap integrations describe it (clevertap-api.md §4, §9):
one subject per call, throttled to 75% of the limit, 429s retried with exponential backoff, and a
deletion proven by repeating the contact search every hour.

Run over HTTP in its own process (``python -m bench.baseline``) so its CPU and memory stay
out of Rightly's figures; scenario (c) runs it in-process on a ``SimClock``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from rightly.domain.clock import Clock, SystemClock

SHARE = 0.75  # DataGrail: "throttles to stay within 70-80% of the limits"
PASSCODE = "bench-pass"


@dataclass
class Incumbent:
    http: httpx.AsyncClient
    base_url: str
    project_id: str
    rate: float
    max_in_flight: int
    clock: Clock = field(default_factory=SystemClock)
    calls: int = 0
    throttled: int = 0
    _next: float = 0.0

    def __post_init__(self) -> None:
        self._slots = asyncio.Semaphore(max(1, int(self.max_in_flight * SHARE)))
        self._lock = asyncio.Lock()

    async def _send(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        headers = {"X-CleverTap-Account-Id": self.project_id, "X-CleverTap-Passcode": PASSCODE}
        backoff = 1.0
        while True:
            async with self._slots:
                async with self._lock:
                    now = self.clock.now()
                    start = max(now, self._next)
                    self._next = start + 1.0 / (self.rate * SHARE)
                await self.clock.sleep(start - now)
                self.calls += 1
                resp = await self.http.request(method, f"{self.base_url}{path}", headers=headers, **kwargs)
            if resp.status_code != 429:
                body: dict[str, Any] = resp.json()
                return body
            self.throttled += 1
            await self.clock.sleep(backoff)
            backoff *= 2

    async def lookup(self, by: str, value: str) -> dict[str, Any] | None:
        body = await self._send("GET", "/1/profile.json", params={by: value})
        record = body.get("record") if body.get("status") == "success" else None
        return record if isinstance(record, dict) else None

    async def delete(self, by: str, value: str | list[str]) -> None:
        await self._send("POST", "/1/delete/profiles.json", json={by: value})

    async def delete_by_email(self, email: str) -> None:
        record = await self.lookup("email", email)
        if record:
            guids = [p["objectId"] for p in record.get("platformInfo", [])]
            if guids:
                await self.delete("guid", guids)

    async def access(self, email: str, user_id: str) -> None:
        await self.lookup("email", email)
        await self.lookup("identity", user_id)


async def each(items: list[Any], work: Callable[[Any], Awaitable[None]], lanes: int) -> None:
    """Work through ``items`` in order with ``lanes`` workers (the incumbent's in-flight share)."""
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)

    async def lane() -> None:
        while not queue.empty():
            await work(queue.get_nowait())

    await asyncio.gather(*(lane() for _ in range(lanes)))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run_http(url: str, rate: float, max_in_flight: int, n_delete: int, n_access: int) -> dict[str, Any]:
    """Scenarios (a), (a') and (b) for the baseline, at once on three accounts of one emulator."""
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=20)) as http:

        def client(pid: str) -> Incumbent:
            return Incumbent(http, f"{url}/us1", pid, rate, max_in_flight)

        async def a() -> dict[str, Any]:
            inc, t0 = client("B-A"), time.perf_counter()
            await each([f"u{i}" for i in range(n_delete)], lambda u: inc.delete("identity", [u]), 2)
            return {"wall": time.perf_counter() - t0, "calls": inc.calls, "throttled": inc.throttled}

        async def a2() -> dict[str, Any]:
            inc, t0 = client("B-A2"), time.perf_counter()
            await each([f"s{i}@example.com" for i in range(n_delete)], inc.delete_by_email, 2)
            return {"wall": time.perf_counter() - t0, "calls": inc.calls, "throttled": inc.throttled}

        async def b() -> dict[str, Any]:
            inc, t0 = client("B-B"), time.perf_counter()
            latencies: list[float] = []

            async def one(i: int) -> None:
                await inc.access(f"s{i}@example.com", f"u{i}")
                latencies.append(time.perf_counter() - t0)

            await each(list(range(n_access)), one, 2)
            return {
                "wall": time.perf_counter() - t0,
                "calls": inc.calls,
                "throttled": inc.throttled,
                "p50": percentile(latencies, 0.5),
                "p95": percentile(latencies, 0.95),
            }

        ra, ra2, rb = await asyncio.gather(a(), a2(), b())
    return {"a": ra, "a2": ra2, "b": rb}


def main(argv: list[str]) -> int:
    url, rate, max_in_flight, n_delete, n_access = argv
    result = asyncio.run(run_http(url, float(rate), int(max_in_flight), int(n_delete), int(n_access)))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
