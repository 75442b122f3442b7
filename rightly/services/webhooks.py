"""Webhooks: endpoints super admins add, and the delivery of events to them as jobs.

An event (``rightly.engine.events``) becomes a ``webhook.fanout`` job in the transaction that caused
it; the fanout enqueues one ``webhook.deliver`` job per enabled endpoint subscribed to that event
(keyed, so a fanout that runs twice delivers once). A delivery is retried on the Standard Webhooks
schedule (``RETRY_AFTER``: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; eight attempts over 27.6 hours)
with the same message id; each attempt is kept (``webhook_attempts``: when, HTTP status, why it
failed). An endpoint whose deliveries have all failed for ``webhook_disable_after_days`` (default
5) is disabled, the audit trail says so, and the dashboard tells super admins (naming its owner)
until someone re-enables or removes it. A disabled endpoint gets nothing, its queued deliveries
included.

Payloads: ``{"type": event, "timestamp": ISO 8601, "data": {...}}`` where data holds ids only
(``request_id``, ``task_id``, ``connection_id``): never the subject's email, never a secret. The
receiver asks the API for more.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rightly.domain.clock import iso
from rightly.engine import jobs
from rightly.engine.jobs import JobOutcome, JobSnapshot
from rightly.http.webhooks import WebhookSender, check_url, new_secret
from rightly.services import audit
from rightly.services.audit import Actor
from rightly.services.errors import InvalidInput, NotFound
from rightly.services.runtime import Runtime
from rightly.store.models import WebhookAttempt, WebhookEndpoint

EVENTS = (
    "request.received",
    "request.verified",
    "request.completed",
    "request.failed",
    "request.overdue",
    "request.canceled",
    "integration.failed",
    "connection.unhealthy",
)
TEST_EVENT = "webhook.test"
FANOUT, DELIVER = "webhook.fanout", "webhook.deliver"
RETRY_AFTER = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)  # after attempts 1..7
MAX_DESCRIPTION = 200
SYSTEM = Actor("system", "system")


def _data(payload: dict[str, Any]) -> dict[str, str]:
    """The ids an event carries, and nothing else."""
    return {k: v for k, v in payload.items() if k.endswith("_id") and isinstance(v, str)}


def _events(events: list[str] | None) -> list[str]:
    chosen = sorted({e.strip() for e in (events or []) if e.strip()})
    if not chosen:
        raise InvalidInput(f"choose at least one event: {', '.join(EVENTS)}")
    unknown = [e for e in chosen if e not in EVENTS]
    if unknown:
        raise InvalidInput(f"unknown event {unknown[0][:60]!r}; the events are: {', '.join(EVENTS)}")
    return chosen


def state_of(ep: WebhookEndpoint) -> str:
    if ep.removed_at is not None:
        return "removed"
    if ep.disabled_at is not None:
        return "disabled"
    return "failing" if ep.failing_since is not None else "active"


async def add(
    session: AsyncSession,
    rt: Runtime,
    actor: Actor,
    url: str,
    events: list[str] | None,
    description: str | None = None,
) -> tuple[WebhookEndpoint, str]:
    """Add an endpoint; returns it and its signing secret (shown this once, stored encrypted)."""
    now = rt.clock.now()
    try:
        url = check_url(url)
        chosen = _events(events)
        description = (description or "").strip() or None
        if description and (
            len(description) > MAX_DESCRIPTION
            or any(ord(c) < 32 or ord(c) == 127 or 0xD800 <= ord(c) <= 0xDFFF for c in description)
        ):
            raise InvalidInput(f"the description must be at most {MAX_DESCRIPTION} printable characters")
    except (ValueError, InvalidInput) as exc:
        error = exc if isinstance(exc, InvalidInput) else InvalidInput(str(exc))
        await audit.failure(session, actor, "webhook.create", "webhook:?", now, error)
        raise error from None
    secret = new_secret()
    ep = WebhookEndpoint(
        url=url,
        events=chosen,
        description=description,
        secret_encrypted=rt.secrets.encrypt(secret),
        created_by=actor.name,
        created_at=now,
        updated_at=now,
    )
    session.add(ep)
    await session.flush()
    audit.record(session, actor, "webhook.create", f"webhook:{ep.id}", now, detail={"events": chosen})
    await session.commit()
    return ep, secret


async def list_endpoints(session: AsyncSession) -> list[WebhookEndpoint]:
    rows = await session.execute(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.removed_at.is_(None))
        .order_by(WebhookEndpoint.created_at)
    )
    return list(rows.scalars())


async def get_endpoint(session: AsyncSession, endpoint_id: str) -> WebhookEndpoint:
    ep = await session.get(WebhookEndpoint, endpoint_id, populate_existing=True)
    if ep is None or ep.removed_at is not None:
        raise NotFound(f"no webhook endpoint {endpoint_id[:60]!r}")
    return ep


async def attempts(session: AsyncSession, endpoint_id: str, limit: int = 50) -> list[WebhookAttempt]:
    rows = await session.execute(
        select(WebhookAttempt)
        .where(WebhookAttempt.endpoint_id == endpoint_id)
        .order_by(WebhookAttempt.at.desc(), WebhookAttempt.id.desc())
        .limit(limit)
    )
    return list(rows.scalars())


async def _change(
    session: AsyncSession, rt: Runtime, actor: Actor, endpoint_id: str, action: str, **values: Any
) -> WebhookEndpoint:
    now = rt.clock.now()
    target = f"webhook:{endpoint_id[:60]}"
    try:
        ep = await get_endpoint(session, endpoint_id)
    except NotFound as exc:
        await audit.failure(session, actor, action, target, now, exc)
        raise
    for name, value in values.items():
        setattr(ep, name, value)
    ep.updated_at = now
    audit.record(session, actor, action, target, now)
    await session.commit()
    return ep


async def remove(session: AsyncSession, rt: Runtime, actor: Actor, endpoint_id: str) -> WebhookEndpoint:
    """Stop delivering to an endpoint (its attempts are kept)."""
    return await _change(session, rt, actor, endpoint_id, "webhook.remove", removed_at=rt.clock.now())


async def enable(session: AsyncSession, rt: Runtime, actor: Actor, endpoint_id: str) -> WebhookEndpoint:
    """Deliver again to a disabled endpoint (events from now on; what was dropped stays dropped)."""
    return await _change(
        session,
        rt,
        actor,
        endpoint_id,
        "webhook.enable",
        disabled_at=None,
        disabled_reason=None,
        failing_since=None,
    )


async def send_test(session: AsyncSession, rt: Runtime, actor: Actor, endpoint_id: str) -> str:
    """Queue a ``webhook.test`` message to one endpoint; returns its message id."""
    now = rt.clock.now()
    ep = await get_endpoint(session, endpoint_id)
    message_id = f"msg_test_{int(now * 1000)}_{ep.id[-8:]}"
    payload = {"endpoint_id": ep.id, "message_id": message_id, "event": TEST_EVENT, "at": now, "data": {}}
    await jobs.enqueue(session, DELIVER, payload, now, key=f"webhook:{message_id}")
    audit.record(session, actor, "webhook.test", f"webhook:{ep.id}", now, detail={"message": message_id})
    await rt.work_queued(session)
    await session.commit()
    rt.poke()
    return message_id


async def disabled_endpoints(session: AsyncSession) -> list[WebhookEndpoint]:
    """Endpoints disabled for failing: the dashboard tells super admins."""
    rows = await session.execute(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.removed_at.is_(None), WebhookEndpoint.disabled_at.is_not(None))
        .order_by(WebhookEndpoint.disabled_at.desc())
    )
    return list(rows.scalars())


def endpoint_view(ep: WebhookEndpoint, last: WebhookAttempt | None = None) -> dict[str, Any]:
    return {
        "id": ep.id,
        "url": ep.url,
        "events": list(ep.events),
        "description": ep.description,
        "created_by": ep.created_by,
        "created_at": iso(ep.created_at),
        "state": state_of(ep),
        "failing_since": iso(ep.failing_since),
        "last_success_at": iso(ep.last_success_at),
        "disabled_at": iso(ep.disabled_at),
        "disabled_reason": ep.disabled_reason,
        "last_attempt": attempt_view(last) if last is not None else None,
    }


def attempt_view(a: WebhookAttempt) -> dict[str, Any]:
    return {
        "message_id": a.message_id,
        "event": a.event,
        "attempt": a.attempt,
        "at": iso(a.at),
        "status_code": a.status_code,
        "ok": a.ok,
        "duration_ms": a.duration_ms,
        "error": a.error,
    }


# -- delivery -------------------------------------------------------------------------------------


@dataclass
class _Sender:
    """The webhook client, made on first use and closed with the runtime."""

    sender: WebhookSender | None = None

    def get(self) -> WebhookSender:
        if self.sender is None:
            self.sender = WebhookSender()
        return self.sender

    async def aclose(self) -> None:
        if self.sender is not None:
            await self.sender.aclose()


def register(rt: Runtime, sender: WebhookSender | None = None) -> None:
    holder = _Sender(sender)
    if sender is None:
        rt.on_close.append(holder.aclose)

    async def fanout(job: JobSnapshot) -> JobOutcome:
        event = str(job.payload.get("event"))
        async with rt.db.session() as s:
            endpoints = [
                ep for ep in await list_endpoints(s) if ep.disabled_at is None and event in ep.events
            ]
            now = rt.clock.now()
            for ep in endpoints:
                payload = {
                    "endpoint_id": ep.id,
                    "message_id": f"msg_{job.id.removeprefix('job_')}",
                    "event": event,
                    "at": job.payload.get("at", now),
                    "data": _data(job.payload),
                }
                await jobs.enqueue(s, DELIVER, payload, now, key=f"webhook:{job.id}:{ep.id}")
            if endpoints:
                await rt.work_queued(s)
            await s.commit()
        if endpoints:
            rt.poke()
        return JobOutcome.done()

    async def deliver(job: JobSnapshot) -> JobOutcome:
        p = job.payload
        attempt = job.attempts + 1
        async with rt.db.session() as s:
            ep = await s.get(WebhookEndpoint, str(p.get("endpoint_id")))
            if ep is None or ep.removed_at is not None:
                return JobOutcome.failed("the endpoint was removed: not sent")
            if ep.disabled_at is not None:
                return JobOutcome.failed("the endpoint is disabled: not sent")
            url, secret = ep.url, rt.secrets.decrypt(ep.secret_encrypted)
        body = json.dumps(
            {"type": p["event"], "timestamp": iso(float(p["at"])), "data": p.get("data") or {}},
            separators=(",", ":"),
        )
        now = rt.clock.now()
        sent = await holder.get().send(url, secret, str(p["message_id"]), now, body)
        async with rt.db.session() as s:
            # the endpoint's row first: the attempt's foreign key would otherwise share-lock it, and
            # two deliveries waiting to update it would deadlock on PostgreSQL
            await _after(s, rt, str(p["endpoint_id"]), sent.ok, sent.error, now)
            s.add(
                WebhookAttempt(
                    endpoint_id=p["endpoint_id"],
                    message_id=str(p["message_id"])[:60],
                    event=str(p["event"])[:50],
                    attempt=attempt,
                    at=now,
                    status_code=sent.status_code,
                    duration_ms=sent.duration_ms,
                    ok=sent.ok,
                    error=sent.error[:300] if sent.error else None,
                )
            )
            await s.commit()
        if sent.ok:
            return JobOutcome.done()
        reason = f"{url}: {sent.error}"
        if attempt > len(RETRY_AFTER):
            return JobOutcome.failed(f"gave up after {attempt} attempts; last: {sent.error}")
        return JobOutcome.retrying(reason, after=RETRY_AFTER[attempt - 1])

    rt.jobs.add(FANOUT, fanout, max_attempts=10, base_delay=5.0, max_delay=600.0)
    rt.jobs.add(DELIVER, deliver, max_attempts=len(RETRY_AFTER) + 1)
    for event in EVENTS:
        rt.events.subscribe(event, FANOUT)


async def _after(
    s: AsyncSession, rt: Runtime, endpoint_id: str, ok: bool, error: str | None, now: float
) -> None:
    """Keep the endpoint's health: a success clears its failing streak; a streak as long as
    ``webhook_disable_after_days`` disables it."""
    ep = await s.get(WebhookEndpoint, endpoint_id, with_for_update=True)
    if ep is None:
        return
    if ok:
        await s.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id)
            .values(last_success_at=now, failing_since=None, updated_at=now)
        )
        return
    since = ep.failing_since if ep.failing_since is not None else now
    values: dict[str, Any] = {"failing_since": since, "updated_at": now}
    days = rt.settings.webhook_disable_after_days
    if ep.disabled_at is None and now - since >= days * 86400:
        values |= {
            "disabled_at": now,
            "disabled_reason": f"every delivery failed for {days:g} days (since {iso(since)}; last: {error})"[
                :2000
            ],
        }
        audit.record(
            s,
            SYSTEM,
            "webhook.disable",
            f"webhook:{endpoint_id}",
            now,
            "failed",
            message=f"deliveries failing since {iso(since)}: {error}",
        )
    await s.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id).values(**values))
