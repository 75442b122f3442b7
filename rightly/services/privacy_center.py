"""The privacy center: a person asks for their data or its deletion (the public form at /privacy,
or ``POST /api/v1/privacy/requests`` for a company's own form), proves they own the email, and
later reads their access results through a link.

Every submission gets the same answer, whether or not any system knows the email: nothing here
looks the email up anywhere. Abuse is bounded before anything is written: a hidden field people
leave empty (a robot fills it in: the answer is the same, nothing is made), at most
``RIGHTLY_PRIVACY_PER_ADDRESS`` submissions per client address within ``RIGHTLY_PRIVACY_WINDOW``
(then 429), and at most ``RIGHTLY_PRIVACY_PER_EMAIL`` per email (then the same answer, but no
further email is sent: nobody can flood a mailbox through Rightly).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from rightly.domain.enums import RequestStatus, RequestType
from rightly.domain.regulations import Location
from rightly.services import audit, deadlines, links, verification
from rightly.services.audit import Actor
from rightly.services.errors import InvalidInput, ServiceError
from rightly.services.requests import normalize_subject
from rightly.services.runtime import Runtime
from rightly.services.throttle import Limit, Throttle
from rightly.store.models import Request

ANSWER = (
    "Check your email. If the address is yours, a message with a link to confirm your request is "
    "on its way; the link works for 7 days. Nothing happens until you confirm."
)
PUBLIC = Actor("anonymous", "privacy center")
BY_ADDRESS, BY_EMAIL = "privacy.address", "privacy.email"


class TooManyRequests(ServiceError):
    status_code = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__("Too many requests from this address. Please try again later.")
        self.retry_after = retry_after


@dataclass(frozen=True)
class PublicRequest:
    type: str
    email: str | None
    location: str
    user_id: str | None = None
    website: str | None = None  # the honeypot: people never see it, so never fill it in


def _checked(data: PublicRequest) -> tuple[RequestType, str, str | None, Location]:
    errors: list[dict[str, str]] = []
    kind = location = None
    try:
        kind = RequestType(data.type)
    except ValueError:
        errors.append({"field": "type", "message": "choose access or deletion"})
    try:
        location = Location(data.location)
    except ValueError:
        errors.append({"field": "location", "message": "choose where you live"})
    email: str | None = None
    user_id = data.user_id
    if not (data.email or "").strip():
        errors.append({"field": "email", "message": "give your email address"})
    else:
        try:
            email, user_id = normalize_subject(data.email, data.user_id)
        except InvalidInput as exc:
            field = "user_id" if "user ID" in str(exc) else "email"
            errors.append({"field": field, "message": str(exc)})
    if errors or kind is None or location is None or email is None:
        raise InvalidInput("; ".join(e["message"] for e in errors), errors)
    return kind, email, user_id, location


async def submit(session: AsyncSession, rt: Runtime, data: PublicRequest, client: str) -> str:
    """Take a request from the privacy center; returns the answer to show (always the same)."""
    now = rt.clock.now()
    throttle = Throttle(rt.secrets)
    window = rt.settings.privacy_window
    per_address = Limit(BY_ADDRESS, rt.settings.privacy_per_address, window)
    if await throttle.exceeded(session, per_address, client, now):
        raise TooManyRequests(int(window))
    await throttle.hit(session, BY_ADDRESS, client, now)
    if (data.website or "").strip():
        audit.record(
            session, PUBLIC, "privacy.submit", None, now, "refused", message="the hidden field was filled in"
        )
        await session.commit()
        return ANSWER
    try:
        kind, email, user_id, location = _checked(data)
    except InvalidInput:
        await session.commit()  # the attempt still counts against the address
        raise
    if await throttle.exceeded(session, Limit(BY_EMAIL, rt.settings.privacy_per_email, window), email, now):
        audit.record(
            session,
            PUBLIC,
            "privacy.submit",
            None,
            now,
            "throttled",
            message="too many requests for one email within the window: no further email sent",
        )
        await session.commit()
        return ANSWER
    await throttle.hit(session, BY_EMAIL, email, now)
    regulation = deadlines.rules(rt.settings).for_location(location)
    req = Request(
        type=kind.value,
        status=RequestStatus.PENDING_VERIFICATION,
        email=email,
        user_id=user_id,
        submitted_by=PUBLIC.name,
        origin="public",
        regulation=regulation.value,
        created_at=now,
        updated_at=now,
        due_at=deadlines.provisional_due(rt.settings, regulation, now),
        tasks=[],
    )
    session.add(req)
    await session.flush()
    audit.record(
        session,
        PUBLIC,
        "privacy.submit",
        audit.target("request", req.id),
        now,
        detail={"type": kind.value, "regulation": regulation.value, "location": location.value},
    )
    await verification.send_link(session, rt, req, now)
    await session.commit()
    rt.poke()
    return ANSWER


@dataclass(frozen=True)
class Results:
    """An access request's answer, as its download link shows it."""

    state: str  # verification.VALID, EXPIRED, INVALID
    request: Request | None = None
    records: tuple[dict[str, Any], ...] = ()
    expires_at: float | None = None


async def results(session: AsyncSession, rt: Runtime, token: str, fmt: str = "page") -> Results:
    """What a results link opens (each opening audited: proof the answer was delivered)."""
    now = rt.clock.now()
    link = await links.find(session, token, links.RESULTS)
    if link is None:
        return Results(verification.INVALID)
    if now >= link.expires_at:
        return Results(verification.EXPIRED, expires_at=link.expires_at)
    req = await deadlines.load(session, link.request_id)
    records = tuple(
        {"system": rt.registry.get(t.connection.vendor).label, "connection": t.connection.name, "record": r}
        for t in req.tasks
        for r in (t.records or [])
        if isinstance(r, dict)
    )
    audit.record(
        session,
        verification.PERSON,
        "request.results",
        audit.target("request", req.id),
        now,
        detail={"format": fmt},
    )
    await session.commit()
    return Results(verification.VALID, req, records, link.expires_at)
