"""Events: what happened to a request, an integration or a connection, for whoever wants to know
(the person's emails, webhooks). An event becomes one job per subscribed kind, enqueued in the very
transaction that made it happen: nothing is announced that did not commit, nothing that committed
is lost (the transactional outbox pattern).

Events and their data (ids only: never personal data, never a secret):

    request.received      {request_id}            the legal clock started: a staff-made request (made
                                                  verified, or verified later), or a privacy-center
                                                  request whose email was verified. It runs now, or
                                                  under the review gate once approved
    request.verified      {request_id}            the person used the verification link
    request.approved      {request_id}            a request manager approved it (the review gate)
    request.denied        {request_id}            a request manager denied it, with a reason
    request.extended      {request_id}            its deadline was extended (once), with a reason
    request.overdue       {request_id}            its deadline passed while it was unfinished
    request.closed_unverified {request_id}        nobody used the verification link within 7 days
    request.completed     {request_id}            every integration finished well
    request.failed        {request_id}            finished, at least one integration in error
    request.canceled      {request_id}            (also a request canceled before it ran)
    integration.failed    {request_id, task_id, connection_id}
    connection.unhealthy  {connection_id}

The privacy center's messages to the person (``rightly.services.notifications``) are driven by
request.received, .extended, .completed, .denied and .closed_unverified.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from rightly.domain.enums import RequestStatus
from rightly.engine import jobs

TERMINAL_EVENTS = {
    RequestStatus.COMPLETE: "request.completed",
    RequestStatus.ERROR: "request.failed",
    RequestStatus.CANCELED: "request.canceled",
}


class Events:
    """Event name -> the job kinds to enqueue for it (wired by the composition root)."""

    def __init__(self) -> None:
        self._subscribers: dict[str, list[str]] = defaultdict(list)

    def subscribe(self, event: str, kind: str) -> None:
        if kind not in self._subscribers[event]:
            self._subscribers[event].append(kind)

    def subscribers(self, event: str) -> list[str]:
        return list(self._subscribers.get(event, ()))

    async def emit(self, session: AsyncSession, event: str, data: dict[str, Any], now: float) -> None:
        for kind in self._subscribers.get(event, ()):
            await jobs.enqueue(session, kind, {"event": event, "at": now, **data}, now)
