"""The legal clock: when a request is received (its deadline set by its regulation), the one
extension it may get, and the sweep that announces a deadline passing (``request.overdue``).

Receipt is when a request made by staff is made (or, unverified, when the person verifies), and
when a privacy-center request's email is verified. From receipt, the request runs at once, or,
under the review gate (``RIGHTLY_REVIEW_REQUESTS``) for privacy-center requests, waits for a request
manager (``pending_review``: the clock runs while it waits).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from rightly.domain.enums import CLOCK_RUNNING, RequestStatus, RequestType
from rightly.domain.regulations import Regulation, Rules
from rightly.services import audit
from rightly.services.audit import Actor
from rightly.services.errors import Conflict, InvalidInput, NotFound
from rightly.services.planning import plan_tasks
from rightly.services.runtime import Runtime
from rightly.settings import Settings
from rightly.store.models import Request, Task

REASON_MAX = 2000


def rules(settings: Settings) -> Rules:
    return Rules(
        default=Regulation(settings.default_regulation),
        other_days=settings.other_deadline_days,
        other_extension_days=settings.other_extension_days,
    )


def regulation_for(settings: Settings, regulation: str | None) -> Regulation:
    """The regulation a request falls under: the one named, or the configured default."""
    if regulation is None or not str(regulation).strip():
        return rules(settings).default
    try:
        return Regulation(str(regulation).strip().lower())
    except ValueError:
        raise InvalidInput(
            f"unknown regulation {regulation!r}: use one of {', '.join(r.value for r in Regulation)}",
            [{"field": "regulation", "message": "unknown regulation"}],
        ) from None


def provisional_due(settings: Settings, regulation: str, now: float) -> float:
    """The deadline a request would have if received now (a held request's placeholder)."""
    return rules(settings).due(regulation, now)


async def receive(
    session: AsyncSession, rt: Runtime, req: Request, now: float, *, hold_for_review: bool
) -> None:
    """Start the legal clock (``request.received``) and the request with it: tasks now, or under
    the review gate ``pending_review`` until approved. In the caller's transaction."""
    req.received_at = now
    req.due_at = rules(rt.settings).due(req.regulation, now)
    req.updated_at = now
    await rt.emit(session, "request.received", {"request_id": req.id})
    if hold_for_review:
        req.status = RequestStatus.PENDING_REVIEW
        return
    await start(session, rt, req, now)


async def start(session: AsyncSession, rt: Runtime, req: Request, now: float) -> None:
    """A held request starts running: its tasks are planned and queued."""
    tasks = await plan_tasks(session, rt, RequestType(req.type), req.email, req.user_id, now)
    req.tasks.extend(tasks)  # the caller loaded req.tasks (a new request has [])
    req.status = RequestStatus.RECEIVED
    req.updated_at = now
    await rt.work_queued(session)


async def extend(session: AsyncSession, rt: Runtime, actor: Actor, request_id: str, reason: str) -> Request:
    """Extend a request's deadline once, as its regulation allows, with a reason the person is told
    (``request.extended``)."""
    now = rt.clock.now()
    target = audit.target("request", request_id)
    try:
        reason = reason_text(reason, "extension")
        req = await load(session, request_id)
        if req.extended_at is not None:
            raise Conflict(f"request {request_id} was extended already; a deadline may be extended once")
        if req.status not in CLOCK_RUNNING or req.received_at is None:
            raise Conflict(
                f"request {request_id} is {req.status}: only a request whose clock runs can be extended"
            )
    except (InvalidInput, Conflict, NotFound) as exc:
        await audit.failure(session, actor, "request.extend", target, now, exc)
        raise
    before = req.due_at
    req.due_at = rules(rt.settings).extended(req.regulation, req.received_at)
    req.extended_at = now
    req.extension_reason = reason
    req.overdue_at = None  # a new deadline may pass again
    req.updated_at = now
    audit.record(
        session,
        actor,
        "request.extend",
        target,
        now,
        detail={"regulation": req.regulation, "from": before, "to": req.due_at},
    )
    await rt.emit(session, "request.extended", {"request_id": req.id})
    await session.commit()
    return await load(session, req.id)


async def flag_overdue(session: AsyncSession, rt: Runtime, now: float) -> int:
    """Announce each request whose deadline has passed while its clock runs (``request.overdue``,
    once per deadline). The caller commits."""
    rows = await session.execute(
        select(Request)
        .where(
            Request.status.in_([s.value for s in CLOCK_RUNNING]),
            Request.received_at.is_not(None),
            Request.due_at <= now,
            Request.overdue_at.is_(None),
        )
        .limit(500)
    )
    found = list(rows.scalars())
    for req in found:
        req.overdue_at = now
        await rt.emit(session, "request.overdue", {"request_id": req.id})
    return len(found)


def reason_text(reason: str | None, what: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise InvalidInput(
            f"give the reason for the {what}: the person is told it",
            [{"field": "reason", "message": "required"}],
        )
    if len(text) > REASON_MAX or "\x00" in text:
        raise InvalidInput(
            f"the reason must be at most {REASON_MAX} characters of text",
            [{"field": "reason", "message": "too long"}],
        )
    return text


async def load(session: AsyncSession, request_id: str) -> Request:
    req = (
        await session.execute(
            select(Request)
            .where(Request.id == request_id)
            .options(selectinload(Request.tasks).selectinload(Task.connection))
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if req is None:
        raise NotFound(f"no request {request_id!r}")
    return req
