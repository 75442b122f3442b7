"""Sending one CleverTap call: budget around the send, the error table on the answer.

The client never retries or sleeps on its own: a retryable verdict goes back to the engine,
which stores ``next_run_at`` and lets the task go (DESIGN.md, execution model).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from rightly.connectors.base import ConnectionConfig, StepContext
from rightly.connectors.clevertap.api import Account
from rightly.connectors.clevertap.errors import Action, Call, Verdict, classify_exception, classify_response
from rightly.connectors.clevertap.settings import CleverTapSettings
from rightly.domain.clock import Clock
from rightly.domain.enums import Priority
from rightly.http.permits import Budget, Limits
from rightly.http.vendor import VendorError, VendorHTTP, VendorRequest


class BudgetBusy(Exception):
    """No budget could be had within the short wait a step allows; reschedule, do not count a failure."""


@dataclass(frozen=True)
class CallRecord:
    """One vendor call, as evidence: never a header, so never the passcode."""

    call: Call
    endpoint: str  # path and query
    host: str  # scheme://host[:port]
    method: str
    at: float
    status_code: int | None
    duration_ms: float
    verdict: Verdict


class CleverTapClient:
    def __init__(
        self,
        http: VendorHTTP,
        budget: Budget,
        clock: Clock,
        account: Account,
        limits: Limits,
        *,
        timeout: float = 20.0,
        max_wait: float = 5.0,
    ) -> None:
        self.http = http
        self.budget = budget
        self.clock = clock
        self.account = account
        self.limits = limits
        self.timeout = timeout
        self.max_wait = max_wait

    @classmethod
    def for_connection(cls, ctx: StepContext, conn: ConnectionConfig) -> CleverTapClient:
        """The client for a connection, on the context's HTTP client, budget and clock."""
        settings: CleverTapSettings = conn.settings
        account = Account(settings.project_id, conn.secret, settings.region, settings.base_url)
        limits = Limits(max_in_flight=conn.max_in_flight, rate=conn.rate)
        return cls(
            ctx.http, ctx.budget, ctx.clock, account, limits, timeout=ctx.timeout, max_wait=ctx.budget_wait
        )

    async def send(self, request: VendorRequest, call: Call, priority: Priority) -> CallRecord:
        key = self.account.budget_key
        permit = await self.budget.acquire(key, self.limits, priority, max_wait=self.max_wait)
        if permit is None:
            raise BudgetBusy(key)
        at = self.clock.now()
        started = time.perf_counter()
        status: int | None = None
        try:
            try:
                response = await self.http.send(request, self.timeout)
                status = response.status_code
                verdict = classify_response(response, call)
            except VendorError as exc:
                verdict = classify_exception(exc)
        finally:
            await self.budget.release(permit)
        if verdict.action is Action.SLOW_DOWN:
            await self.budget.slow_down(key)
        return CallRecord(
            call=call,
            endpoint=_path_and_query(request.url),
            host=_origin(request.url),
            method=request.method,
            at=at,
            status_code=status,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
            verdict=verdict,
        )


def _path_and_query(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
