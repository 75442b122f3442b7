"""From leased tasks to connector steps: find each connection's connector and run its step."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from rightly.connectors.base import ConnectionConfig, RecordIntent, Registry, StepContext
from rightly.domain.clock import Clock
from rightly.domain.work import TaskSnapshot, TaskUpdate
from rightly.http.permits import Budget
from rightly.http.vendor import VendorHTTP
from rightly.store.secrets import Secrets


def connection_config(conn: Any, registry: Registry, secrets: Secrets) -> ConnectionConfig:
    """A stored connection (a row or an ORM object) as a step sees it, its secret decrypted."""
    connector = registry.get(conn.vendor)
    return ConnectionConfig(
        id=conn.id,
        name=conn.name,
        vendor=conn.vendor,
        settings=connector.load_settings(conn.settings),
        secret=secrets.decrypt(conn.secret_encrypted),
        max_in_flight=conn.max_in_flight,
        rate=conn.rate,
    )


class Dispatcher:
    def __init__(
        self,
        registry: Registry,
        secrets: Secrets,
        http: VendorHTTP,
        budget: Budget,
        clock: Clock,
        timeout: float,
        budget_wait: float,
    ) -> None:
        self.registry = registry
        self.secrets = secrets
        self.http = http
        self.budget = budget
        self.clock = clock
        self.timeout = timeout
        self.budget_wait = budget_wait
        self._shared: dict[str, dict[str, Any]] = {}  # per vendor, for the life of this engine
        self._configs: dict[str, tuple[float, ConnectionConfig]] = {}

    def config(self, conn: Row[Any]) -> ConnectionConfig:
        """The connection's settings with its secret decrypted, decrypted again only once the
        connection has changed."""
        cached = self._configs.get(conn.id)
        if cached is None or cached[0] != conn.updated_at:
            cached = (conn.updated_at, connection_config(conn, self.registry, self.secrets))
            self._configs[conn.id] = cached
        return cached[1]

    async def run(
        self, conn: Row[Any], snaps: list[TaskSnapshot], record_intent: RecordIntent
    ) -> list[TaskUpdate]:
        """Run one step for ``snaps`` (all of connection ``conn``, all at one phase; several only
        for a batched phase)."""
        config = self.config(conn)
        ctx = StepContext(
            self.http,
            self.budget,
            self.clock,
            timeout=self.timeout,
            budget_wait=self.budget_wait,
            record_intent=record_intent,
            shared=self._shared.setdefault(conn.vendor, {}),
        )
        updates = await self.registry.get(conn.vendor).run(ctx, config, snaps[0].phase, snaps)
        return checked(updates, snaps)


def checked(updates: object, snaps: list[TaskSnapshot]) -> list[TaskUpdate]:
    """A connector's answer as the engine can record it: one ``TaskUpdate`` for each task it was
    given. Anything else is a bug in the connector (TypeError), retried and shown like any other."""
    if not isinstance(updates, list) or not all(isinstance(u, TaskUpdate) for u in updates):
        raise TypeError(f"a connector step must return a list of TaskUpdate, not {type(updates).__name__}")
    if sorted(u.task_id for u in updates) != sorted(s.id for s in snaps):
        raise TypeError("a connector step must return one update for each task it was given")
    return updates
