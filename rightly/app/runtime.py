"""Opening a Runtime: everything a service needs, built from the settings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from rightly.connectors.base import Registry
from rightly.connectors.builtin import builtin_registry
from rightly.domain.clock import Clock, SystemClock
from rightly.http.budgets import budget_from_url
from rightly.http.permits import Budget
from rightly.http.vendor import HttpxVendor, VendorHTTP
from rightly.services import maintenance, notifications, retention, webhooks
from rightly.services.runtime import Runtime
from rightly.settings import Settings
from rightly.store import meta
from rightly.store.chain import Sealer
from rightly.store.db import Database
from rightly.store.secrets import Secrets

# Background features: each registers its job kinds, recurring sweeps and event subscriptions.
FEATURES = (maintenance.register, notifications.register, webhooks.register, retention.register)


@asynccontextmanager
async def open_runtime(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    http: VendorHTTP | httpx.AsyncClient | None = None,
    budget: Budget | None = None,
    registry: Registry | None = None,
) -> AsyncIterator[Runtime]:
    """Open everything (migrating the database on first use) and close it all afterwards.

    ``http`` carries the vendor calls: by default one client for the process; an
    ``httpx.AsyncClient`` given here (the emulator mounted in-process, say) is used and left open.
    ``registry``: the connectors (default: those Rightly ships with).
    """
    settings = settings or Settings()
    clock = clock or SystemClock()
    db = Database(settings.resolved_database_url(), settings.database_schema)
    own_http = http is None
    own_budget = budget is None
    vendor: VendorHTTP
    if http is None:
        vendor = HttpxVendor.default(settings.http_timeout)  # one client for the process
    elif isinstance(http, httpx.AsyncClient):
        vendor = HttpxVendor(http)
    else:
        vendor = http
    budget = budget or budget_from_url(settings.redis_url, clock)
    rt: Runtime | None = None
    try:
        await db.migrate()
        async with db.session() as session:
            salt = await meta.kdf_salt(session)
        secrets = await asyncio.to_thread(
            Secrets.load, settings.home, settings.secret_key, salt=salt, previous=settings.previous_secret_key
        )
        async with db.session() as session:
            secrets.use_mac_key(await meta.mac_key(session, secrets))
            await session.commit()
        db.use_sealer(Sealer(secrets))  # audit entries and evidence chained with the install's MAC key
        rt = Runtime(settings, db, registry or builtin_registry(), secrets, clock, vendor, budget)
        for register in FEATURES:  # each adds its job kinds and the events it listens to
            register(rt)
        yield rt
    finally:
        if rt is not None:
            await rt.aclose()
        if own_http:
            await vendor.aclose()
        if own_budget:
            await budget.aclose()
        await db.dispose()
