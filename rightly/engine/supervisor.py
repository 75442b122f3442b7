"""Keeping an in-process worker alive: ``rightly serve`` runs one beside the API, and if it ever ends
(a bug that escaped its own round supervision) it is started again, with a pause that grows."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rightly.engine.worker import Worker

log = logging.getLogger(__name__)


@dataclass
class Supervised:
    """What /readyz shows of the in-process worker."""

    running: bool = False
    restarts: int = 0
    last_exit: str | None = None


class Supervisor:
    def __init__(self, make_worker: Callable[[], Worker], max_pause: float = 30.0) -> None:
        self.make_worker = make_worker
        self.max_pause = max_pause
        self.state = Supervised()
        self.worker: Worker | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._keep_running())

    async def _keep_running(self) -> None:
        pause = 0.5
        while not self._stop.is_set():
            self.worker = self.make_worker()
            self.state.running = True
            try:
                await self.worker.run(self._stop)
                self.state.last_exit = None if self._stop.is_set() else "the worker returned"
            except Exception as exc:
                self.state.last_exit = f"{type(exc).__name__}: {str(exc)[:200]}"
                log.exception("the in-process worker ended; starting it again in %.1f s", pause)
            finally:
                self.state.running = False
            if self._stop.is_set():
                return
            self.state.restarts += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=pause)
            pause = min(self.max_pause, pause * 2)

    def view(self) -> dict[str, Any]:
        health = self.worker.health if self.worker is not None else None
        return {
            "running": self.state.running,
            "restarts": self.state.restarts,
            "last_exit": self.state.last_exit,
            "failed_rounds": health.failures if health else 0,
            "last_error": health.last_error if health else None,
        }

    @property
    def healthy(self) -> bool:
        return self.state.running and (self.worker is None or self.worker.health.failures < 3)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
