"""Sending one CleverTap call: budget around the send, the error table on the answer.

The client never retries or sleeps on its own: a retryable verdict goes back to the engine,
which stores ``next_run_at`` and lets the task go (DESIGN.md, execution model).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from rightly.connectors.clevertap.api import Account
from rightly.connectors.clevertap.errors import Action, Call, Verdict, classify_exception, classify_response
from rightly.domain.clock import Clock
from rightly.domain.enums import Priority
from rightly.http.budget import Budget, Limits
from rightly.http.vendor import VendorError, VendorHTTP, VendorRequest


class BudgetBusy(Exception):
    """No budget could be had within the short wait a step allows; reschedule, do not count a failure."""


@dataclass(frozen=True)
class CallRecord:
    """One vendor call, as evidence: never a header, so never the passcode."""

    call: Call
    endpoint: str
    method: str
    at: float
    status_code: int | None
    duration_ms: float
    verdict: Verdict


class ProjectSettings(Protocol):
    """What a client needs of a connection (a stored one, a form's input, a step's config)."""

    @property
    def project_id(self) -> str: ...
    @property
    def region(self) -> str: ...
    @property
    def api_base_url(self) -> str | None: ...
    @property
    def max_in_flight(self) -> int: ...
    @property
    def rate(self) -> float: ...


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
    def for_project(
        cls,
        http: VendorHTTP,
        budget: Budget,
        clock: Clock,
        project: ProjectSettings,
        passcode: str,
        *,
        timeout: float = 20.0,
        max_wait: float = 5.0,
    ) -> CleverTapClient:
        account = Account(project.project_id, passcode, project.region, project.api_base_url)
        limits = Limits(max_in_flight=project.max_in_flight, rate=project.rate)
        return cls(http, budget, clock, account, limits, timeout=timeout, max_wait=max_wait)

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
            endpoint=request.endpoint,
            method=request.method,
            at=at,
            status_code=status,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
            verdict=verdict,
        )
