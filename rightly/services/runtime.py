"""The wiring every face shares: settings, database, secrets, clock, HTTP client, budget."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx

from rightly.domain.clock import Clock, SystemClock
from rightly.engine.worker import Worker, WorkerOptions
from rightly.http.budgets import budget_from_url
from rightly.http.permits import Budget
from rightly.http.vendor import HttpxVendor, VendorHTTP
from rightly.settings import Settings
from rightly.store.db import Database
from rightly.store.secrets import Secrets


@dataclass
class Runtime:
    settings: Settings
    db: Database
    secrets: Secrets
    clock: Clock
    http: VendorHTTP
    budget: Budget
    workers: list[Worker] = field(default_factory=list)

    def worker(self, options: WorkerOptions | None = None, owner: str | None = None) -> Worker:
        opts = options or WorkerOptions(
            concurrency=self.settings.worker_concurrency,
            lease_seconds=self.settings.lease_seconds,
            timeout=self.settings.http_timeout,
        )
        worker = Worker(self.db, self.secrets, self.http, self.budget, self.clock, opts, owner)
        self.workers.append(worker)
        return worker

    def poke(self) -> None:
        """Tell this process's workers that new work is queued."""
        for worker in self.workers:
            worker.poke()


@asynccontextmanager
async def open_runtime(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    http: VendorHTTP | httpx.AsyncClient | None = None,
    budget: Budget | None = None,
) -> AsyncIterator[Runtime]:
    """Open everything (migrating the database on first use) and close it all afterwards.

    ``http`` carries the vendor calls: by default the process's own client (``HttpxVendor.default``,
    closed afterwards); an ``httpx.AsyncClient`` given here (the emulator mounted in-process, say) is
    used through ``HttpxVendor`` and left open.
    """
    settings = settings or Settings()
    clock = clock or SystemClock()
    db = Database(settings.resolved_database_url(), settings.database_schema)
    own_http = http is None
    own_budget = budget is None
    if http is None:
        vendor: VendorHTTP = HttpxVendor.default(settings.http_timeout)
    elif isinstance(http, httpx.AsyncClient):
        vendor = HttpxVendor(http)
    else:
        vendor = http
    budget = budget or budget_from_url(settings.redis_url, clock)
    try:
        await db.migrate()
        secrets = Secrets.load(settings.home, settings.secret_key)
        yield Runtime(settings, db, secrets, clock, vendor, budget)
    finally:
        if own_http:
            await vendor.aclose()
        if own_budget:
            await budget.aclose()
        await db.dispose()
