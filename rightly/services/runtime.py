"""What every service is handed: settings, database, connector registry, secrets, clock, vendor
HTTP client and call budget, and the workers of this process. Built by the composition root
(``rightly.app.runtime.open_runtime``); services never wire anything themselves."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from rightly.connectors.base import Policy, Registry
from rightly.domain.clock import Clock
from rightly.engine.events import Events
from rightly.engine.jobs import RECURRING, JobKinds, enqueue
from rightly.engine.worker import Worker, WorkerOptions
from rightly.http.permits import Budget
from rightly.http.vendor import VendorHTTP
from rightly.settings import Settings
from rightly.store import notify
from rightly.store.db import Database
from rightly.store.secrets import Secrets


@dataclass
class Runtime:
    settings: Settings
    db: Database
    registry: Registry
    secrets: Secrets
    clock: Clock
    http: VendorHTTP
    budget: Budget
    events: Events = field(default_factory=Events)  # event -> job kinds (the composition root wires them)
    jobs: JobKinds = field(default_factory=JobKinds)  # job kind -> handler
    recurring: list[str] = field(default_factory=list)  # job kinds that run forever (sweeps)
    workers: list[Worker] = field(default_factory=list)
    listener: notify.Listener | None = None
    on_close: list[Callable[[], Awaitable[None]]] = field(default_factory=list)  # features' own clients

    @property
    def policy(self) -> Policy:
        return Policy(allow_custom_base_urls=self.settings.allow_custom_base_urls)

    def worker(self, options: WorkerOptions | None = None, owner: str | None = None) -> Worker:
        opts = options or WorkerOptions(
            concurrency=self.settings.worker_concurrency,
            lease_seconds=self.settings.lease_seconds,
            timeout=self.settings.http_timeout,
        )
        worker = Worker(
            self.db,
            self.registry,
            self.secrets,
            self.http,
            self.budget,
            self.clock,
            opts,
            owner,
            self.worker_started,
            self.jobs,
            self.events,
        )
        self.workers.append(worker)
        return worker

    async def worker_started(self) -> None:
        """A worker of this process starts: make sure every recurring sweep is queued (once, however
        many workers start), and have other processes' new work wake ours (PostgreSQL only)."""
        if self.recurring:
            async with self.db.session() as s:
                now = self.clock.now()
                for kind in self.recurring:
                    await enqueue(s, kind, {}, now, key=RECURRING + kind)
                await s.commit()
        if self.listener is None and not self.db.is_sqlite:
            self.listener = notify.Listener(self.db.url, self.db.schema, self.poke)
            await self.listener.start()

    async def work_queued(self, session: AsyncSession) -> None:
        """Inside the transaction that queues work (tasks or jobs): wake every worker once it commits."""
        await notify.announce(session, self.db.schema)

    async def emit(self, session: AsyncSession, event: str, data: dict[str, Any]) -> None:
        """An event, in the caller's transaction (see ``rightly.engine.events``)."""
        await self.events.emit(session, event, data, self.clock.now())

    def poke(self) -> None:
        """Tell this process's workers that new work is queued."""
        for worker in self.workers:
            worker.poke()

    async def aclose(self) -> None:
        if self.listener is not None:
            await self.listener.stop()
        for close in self.on_close:
            await close()
