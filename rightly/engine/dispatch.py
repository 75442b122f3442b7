"""From leased tasks to connector steps: build each connection's client and pick the step by phase."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import Row

from rightly.connectors.clevertap import steps
from rightly.connectors.clevertap.client import CleverTapClient
from rightly.connectors.clevertap.schedule import VerifySchedule
from rightly.domain.clock import Clock
from rightly.domain.enums import Phase
from rightly.domain.work import ConnectionConfig, TaskSnapshot, TaskUpdate, settings_of
from rightly.http.budget import Budget
from rightly.http.vendor import VendorHTTP
from rightly.store.secrets import Secrets


def connection_config(conn: Row[Any], secrets: Secrets) -> ConnectionConfig:
    """A stored connection (as the worker reads it) as a step sees it, its passcode decrypted."""
    passcode = secrets.decrypt(conn.passcode_encrypted)
    return ConnectionConfig(id=conn.id, passcode=passcode, **settings_of(conn))


class Dispatcher:
    def __init__(
        self,
        secrets: Secrets,
        http: VendorHTTP,
        budget: Budget,
        clock: Clock,
        timeout: float,
        budget_wait: float,
    ) -> None:
        self.secrets = secrets
        self.http = http
        self.budget = budget
        self.clock = clock
        self.timeout = timeout
        self.budget_wait = budget_wait
        self.inflight: steps.InFlight = {}  # single-flight lookups across this worker's steps
        self._configs: dict[str, tuple[float, ConnectionConfig]] = {}

    def config(self, conn: Row[Any]) -> ConnectionConfig:
        """The connection's settings with its passcode decrypted, decrypted again only once the
        connection has changed."""
        cached = self._configs.get(conn.id)
        if cached is None or cached[0] != conn.updated_at:
            cached = (conn.updated_at, connection_config(conn, self.secrets))
            self._configs[conn.id] = cached
        return cached[1]

    def context(self, config: ConnectionConfig, record_intent: steps.RecordIntent) -> steps.StepContext:
        client = CleverTapClient.for_project(
            self.http,
            self.budget,
            self.clock,
            config,
            config.passcode,
            timeout=self.timeout,
            max_wait=self.budget_wait,
        )
        schedule = VerifySchedule.scaled(config.verify_interval, config.timezone)
        return steps.StepContext(client, config, schedule, record_intent, self.inflight)

    async def run(
        self,
        conn: Row[Any],
        snaps: list[TaskSnapshot],
        record_intent: Callable[[list[str]], Awaitable[None]],
    ) -> list[TaskUpdate]:
        """Run one step for ``snaps`` (all of connection ``conn``; several only for a submit batch)."""
        ctx = self.context(self.config(conn), record_intent)
        phase = Phase(snaps[0].phase)
        if phase is Phase.SUBMIT:
            return await steps.run_submit(ctx, snaps)
        (snap,) = snaps
        if phase is Phase.LOOKUP:
            return [await steps.run_access(ctx, snap)]
        if phase is Phase.RESOLVE:
            return [await steps.run_resolve(ctx, snap)]
        if phase is Phase.VERIFY:
            return [await steps.run_verify(ctx, snap)]
        raise ValueError(f"task {snap.id} is in phase {phase}, which has no step")
