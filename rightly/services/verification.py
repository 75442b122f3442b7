"""Verification: proof that the person owns the email, before a request runs against anything.

A request held for verification (``pending_verification``) has no tasks. Its subject gets a
single-use link, valid 7 days; 24 hours on, if unused, a reminder with a fresh link (expiring with
the first); after 7 days the request closes as ``closed_unverified`` and the person is told.
Using the link starts the legal clock (``rightly.services.deadlines.receive``).

The GET of a link only looks (mail scanners fetch links); the person confirms with a button (a
POST carrying the token in its body), which spends the link. A second use says it was used.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from rightly.domain.enums import RequestStatus
from rightly.services import audit, deadlines, links, messages
from rightly.services.audit import Actor
from rightly.services.runtime import Runtime
from rightly.store.models import Request, Task
from rightly.store.privacy_models import Link

REMIND_AFTER = 24 * 3600.0
PERSON = Actor("anonymous", "privacy center (email link)")

# What a link is, as the page tells the person.
VALID, USED, EXPIRED, INVALID, CLOSED = "valid", "used", "expired", "invalid", "closed"


async def send_link(
    session: AsyncSession, rt: Runtime, req: Request, now: float, *, reminder: bool = False
) -> None:
    """Issue a verify link for a held request and queue the message carrying it (in the caller's
    transaction). The link expires 7 days after the request was made, reminder or not."""
    expires = req.created_at + links.LINK_SECONDS
    token = await links.issue(session, req.id, links.VERIFY, now, expires)
    kind = "reminder" if reminder else "verify"
    extra = {"link": links.verify_url(rt.settings, token), "link_expires": messages.moment(expires)}
    await messages.queue(session, rt, req, kind, now, extra, key=f"{req.id}:{kind}")


@dataclass(frozen=True)
class Look:
    """What a verify link is now, and (when it can be confirmed or was) its request."""

    state: str
    request: Request | None = None


async def look(session: AsyncSession, rt: Runtime, token: str) -> Look:
    link = await links.find(session, token, links.VERIFY)
    if link is None:
        return Look(INVALID)
    req = await _request(session, link.request_id)
    return Look(_state(link, req, rt.clock.now()), req)


def _state(link: Link, req: Request, now: float) -> str:
    if link.used_at is not None or req.verified_at is not None:
        return USED
    if req.status != RequestStatus.PENDING_VERIFICATION:
        return CLOSED
    if now >= link.expires_at:
        return EXPIRED
    return VALID


async def confirm(session: AsyncSession, rt: Runtime, token: str) -> Look:
    """Spend a verify link: the request is verified, received, and runs (or awaits review)."""
    now = rt.clock.now()
    link = await links.find(session, token, links.VERIFY)
    if link is None:
        return Look(INVALID)
    req = await _request(session, link.request_id)
    state = _state(link, req, now)
    target = audit.target("request", req.id)
    if state != VALID or not await links.use(session, link, now):
        state = state if state != VALID else USED  # nothing was changed: no rollback needed
        audit.record(
            session, PERSON, "request.verify", target, now, "refused", message=f"the link is {state}"
        )
        await session.commit()
        return Look(state, req)
    req.verified_at = now
    req.verified_by = "email link"
    audit.record(session, PERSON, "request.verify", target, now, detail={"via": "email link"})
    await rt.emit(session, "request.verified", {"request_id": req.id})
    gate = rt.settings.review_requests and req.origin == "public"
    await deadlines.receive(session, rt, req, now, hold_for_review=gate)
    await session.commit()
    rt.poke()
    return Look(VALID, await _request(session, req.id))


async def sweep(session: AsyncSession, rt: Runtime, now: float) -> tuple[int, int]:
    """Remind who has not verified after 24 hours; close what stayed unverified 7 days
    (``request.closed_unverified``). Returns (reminded, closed); the caller commits."""
    held = RequestStatus.PENDING_VERIFICATION.value
    closing = list(
        (
            await session.execute(
                select(Request)
                .where(Request.status == held, Request.created_at <= now - links.LINK_SECONDS)
                .limit(500)
            )
        ).scalars()
    )
    for req in closing:
        req.status = RequestStatus.CLOSED_UNVERIFIED
        req.completed_at = now
        req.updated_at = now
        audit.record(
            session,
            messages.SYSTEM,
            "request.close",
            audit.target("request", req.id),
            now,
            message="nobody used the verification link within 7 days",
        )
        await rt.emit(session, "request.closed_unverified", {"request_id": req.id})
    reminding = list(
        (
            await session.execute(
                select(Request)
                .where(
                    Request.status == held,
                    Request.reminded_at.is_(None),
                    Request.created_at <= now - REMIND_AFTER,
                    Request.created_at > now - links.LINK_SECONDS,
                )
                .limit(500)
            )
        ).scalars()
    )
    for req in reminding:
        req.reminded_at = now
        await send_link(session, rt, req, now, reminder=True)
    return len(reminding), len(closing)


async def _request(session: AsyncSession, request_id: str) -> Request:
    return (
        await session.execute(
            select(Request)
            .where(Request.id == request_id)
            .options(selectinload(Request.tasks).selectinload(Task.connection))
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
