"""Group commit: steps that finish together share one transaction.

Under load many steps finish within milliseconds of each other; persisting each in its own
transaction costs more CPU than the steps themselves. A step hands its updates here and waits;
one flusher gathers for ``window`` seconds (real time: a few milliseconds, so a finished step is
recorded at once for any reader) and writes everything queued so far in a single transaction,
then the next batch.
"""

from __future__ import annotations

import asyncio
import logging

from rightly.domain.clock import Clock
from rightly.domain.work import TaskUpdate
from rightly.engine import queue
from rightly.store.db import Database

log = logging.getLogger(__name__)


class GroupCommit:
    def __init__(self, db: Database, owner: str, clock: Clock, window: float = 0.0) -> None:
        self.db = db
        self.owner = owner
        self.clock = clock
        self.window = window
        self._waiting: list[tuple[list[TaskUpdate], asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.transactions = 0

    async def persist(self, updates: list[TaskUpdate]) -> None:
        """Return once ``updates`` are committed (raises what their transaction raised)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((updates, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await done

    async def _flush(self) -> None:
        while self._waiting:
            if self.window > 0:
                await asyncio.sleep(self.window)  # let steps finishing meanwhile share the transaction
            batch, self._waiting = self._waiting, []
            try:
                await self._write([u for updates, _ in batch for u in updates])
            except Exception as exc:
                if len(batch) == 1:
                    batch[0][1].set_exception(exc)
                    continue
                # One bad update must not sink the others: write them one step at a time.
                log.warning("a group commit of %d steps failed; retrying them one by one", len(batch))
                for updates, done in batch:
                    try:
                        await self._write(updates)
                    except Exception as exc:
                        done.set_exception(exc)
                    else:
                        done.set_result(None)
                continue
            for _, done in batch:
                done.set_result(None)

    async def _write(self, updates: list[TaskUpdate]) -> None:
        async with self.db.session() as s:
            await queue.persist(s, self.owner, updates, self.clock.now())
        self.transactions += 1
