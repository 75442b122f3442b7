"""A discrete-event clock: time jumps to the earliest pending wake-up only when nothing can run.

``FakeClock.sleep`` advances time at once, so concurrent sleepers would each push time forward.
``SimClock.sleep`` instead parks the caller; ``drive()`` (one task) waits until the event loop has
nothing ready and no SQLite call is running in aiosqlite's thread (``counting_sqlite_work``), then
moves time to the earliest wake-up and releases every sleeper due.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import Iterator
from typing import Any

import aiosqlite


class SimClock:
    def __init__(self, start: float = 1_767_225_600.0, settle: float = 0.0) -> None:
        self._now = start
        self._heap: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self.settle = settle
        self.advances = 0
        self.pending = 0  # SQLite calls running in a thread: time must not move meanwhile

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._heap, (self._now + seconds, next(self._seq), fut))
        await fut

    def _idle(self, loop: asyncio.AbstractEventLoop) -> bool:
        return not loop._ready and not self.pending  # type: ignore[attr-defined]

    async def drive(self, stop: asyncio.Event) -> None:
        """Advance time whenever everything waits, until ``stop`` is set."""
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            await asyncio.sleep(0)
            if self.pending:
                await asyncio.sleep(0.0001)
                continue
            if not self._idle(loop):
                continue
            if self.settle:
                await asyncio.sleep(self.settle)  # let worker threads (SQLite) hand back results
                if not self._idle(loop):
                    continue
                await asyncio.sleep(0)
                if not self._idle(loop):
                    continue
            while self._heap and self._heap[0][2].done():  # cancelled sleepers
                heapq.heappop(self._heap)
            if not self._heap:
                await asyncio.sleep(self.settle or 0.001)
                continue
            when = self._heap[0][0]
            self._now = max(self._now, when)
            self.advances += 1
            while self._heap and self._heap[0][0] <= self._now:
                _, _, fut = heapq.heappop(self._heap)
                if not fut.done():
                    fut.set_result(None)


@contextlib.contextmanager
def counting_sqlite_work(clock: SimClock) -> Iterator[None]:
    """Count aiosqlite's calls in flight on ``clock`` (a benchmark harness patch, undone on exit)."""
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        clock.pending += 1
        try:
            return await original(self, fn, *args, **kwargs)
        finally:
            clock.pending -= 1

    aiosqlite.Connection._execute = counted  # type: ignore[method-assign]
    try:
        yield
    finally:
        aiosqlite.Connection._execute = original  # type: ignore[method-assign]
