"""A discrete-event clock: time jumps to the earliest pending wake-up only when nothing can run.

``FakeClock.sleep`` advances time at once, so concurrent sleepers would each push time forward.
``SimClock.sleep`` instead parks the caller; ``drive()`` (one task) waits until the event loop has
nothing ready (SQLite runs on the loop's thread, so nothing else can be busy), then moves time to
the earliest wake-up and releases every sleeper due. It reads asyncio's own ready queue: run it on
asyncio's event loop, not uvloop.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools


class SimClock:
    def __init__(self, start: float = 1_767_225_600.0) -> None:
        self._now = start
        self._heap: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self.advances = 0

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
        return not loop._ready  # type: ignore[attr-defined]

    async def drive(self, stop: asyncio.Event) -> None:
        """Advance time whenever everything waits, until ``stop`` is set."""
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            await asyncio.sleep(0)
            if not self._idle(loop):
                continue
            while self._heap and self._heap[0][2].done():  # cancelled sleepers
                heapq.heappop(self._heap)
            if not self._heap:
                await asyncio.sleep(0.001)
                continue
            when = self._heap[0][0]
            self._now = max(self._now, when)
            self.advances += 1
            while self._heap and self._heap[0][0] <= self._now:
                _, _, fut = heapq.heappop(self._heap)
                if not fut.done():
                    fut.set_result(None)
