"""The optional review gate (``RIGHTLY_REVIEW_REQUESTS``): a privacy-center request, once verified,
waits in ``pending_review`` until a request manager approves it (it runs) or denies it with a reason
the person is told (``request.denied``). The legal clock runs while it waits."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from rightly.domain.enums import RequestStatus
from rightly.services import audit, deadlines
from rightly.services.audit import Actor
from rightly.services.errors import Conflict, InvalidInput, NotFound
from rightly.services.runtime import Runtime
from rightly.store.models import Request


async def approve(session: AsyncSession, rt: Runtime, actor: Actor, request_id: str) -> Request:
    now = rt.clock.now()
    target = audit.target("request", request_id)
    try:
        req = await _waiting(session, request_id)
    except (NotFound, Conflict) as exc:
        await audit.failure(session, actor, "request.approve", target, now, exc)
        raise
    req.decided_at, req.decided_by = now, actor.name
    await deadlines.start(session, rt, req, now)
    audit.record(session, actor, "request.approve", target, now)
    await rt.emit(session, "request.approved", {"request_id": req.id})
    await session.commit()
    rt.poke()
    return await deadlines.load(session, req.id)


async def deny(session: AsyncSession, rt: Runtime, actor: Actor, request_id: str, reason: str) -> Request:
    now = rt.clock.now()
    target = audit.target("request", request_id)
    try:
        reason = deadlines.reason_text(reason, "denial")
        req = await _waiting(session, request_id)
    except (NotFound, Conflict, InvalidInput) as exc:
        await audit.failure(session, actor, "request.deny", target, now, exc)
        raise
    req.status = RequestStatus.DENIED
    req.decided_at, req.decided_by, req.denial_reason = now, actor.name, reason
    req.completed_at = req.updated_at = now
    audit.record(session, actor, "request.deny", target, now)
    await rt.emit(session, "request.denied", {"request_id": req.id})
    await session.commit()
    return await deadlines.load(session, req.id)


async def _waiting(session: AsyncSession, request_id: str) -> Request:
    req = await deadlines.load(session, request_id)
    if req.status != RequestStatus.PENDING_REVIEW:
        raise Conflict(f"request {request_id} is {req.status}, not waiting for review")
    return req
