"""Messages to the person a request is about: composed from the templates, queued in the database,
delivered by a ``mail.send`` job (retried with backoff), each delivery in the audit trail.

A message's subject and parts are encrypted at rest (they may carry a link); its recipient is kept
in the clear (with ``requests.email``, the only place the subject's address is kept) and never
logged, audited or put in an error. With ``RIGHTLY_SMTP_URL`` unset, a message is kept in the
outbox instead of sent: super admins read it in the web UI (/outbox) and with ``rightly outbox``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from rightly.domain.regulations import LABELS, Regulation
from rightly.engine import jobs
from rightly.engine.jobs import JobOutcome, JobSnapshot
from rightly.mail import smtp
from rightly.mail.templates import templates_for
from rightly.services import audit
from rightly.services.audit import Actor
from rightly.services.errors import NotFound
from rightly.services.runtime import Runtime
from rightly.store.models import Request
from rightly.store.privacy_models import Message

log = logging.getLogger(__name__)
SEND = "mail.send"
MAX_ATTEMPTS = 8
QUEUED, SENT, KEPT, FAILED = "queued", "sent", "kept", "failed"
SYSTEM = Actor("system", "system")


def day(ts: float | None) -> str:
    """A date as a person reads it: 31 January 2026."""
    if ts is None:
        return "—"
    when = datetime.fromtimestamp(ts, UTC)
    return f"{when.day} {when:%B %Y}"


def moment(ts: float | None) -> str:
    """A date and time: 31 January 2026, 14:05 UTC."""
    if ts is None:
        return "—"
    return f"{day(ts)}, {datetime.fromtimestamp(ts, UTC):%H:%M} UTC"


def request_context(req: Request, organization: str | None) -> dict[str, Any]:
    """What every message template is given (see rightly/mail/templates)."""
    access = req.type == "access"
    return {
        "org": organization or "us",
        "org_title": organization or "We",
        "signature": organization or "The privacy team",
        "request": {
            "reference": req.id,
            "type": req.type,
            "type_words": "access" if access else "deletion",
            "type_phrase": "a copy of your personal data" if access else "the deletion of your personal data",
            "regulation": LABELS.get(Regulation(req.regulation), req.regulation)
            if req.regulation in set(Regulation)
            else req.regulation,
            "created_at": day(req.created_at),
            "received_at": day(req.received_at),
            "due_at": day(req.due_at) if req.received_at is not None else "—",
        },
    }


async def queue(
    session: AsyncSession,
    rt: Runtime,
    req: Request,
    kind: str,
    now: float,
    extra: dict[str, Any] | None = None,
    *,
    key: str | None = None,
) -> Message | None:
    """Compose a message to the request's subject and queue its delivery, in the caller's
    transaction. None when the request has no email, or a message with ``key`` exists already."""
    if not req.email:
        return None
    if key is not None:
        seen = await session.execute(select(Message.id).where(Message.key == key))
        if seen.first() is not None:
            return None
    context = request_context(req, rt.settings.organization) | (extra or {})
    rendered = templates_for(rt.settings.templates).render(kind, context)
    body = json.dumps({"subject": rendered.subject, "text": rendered.text, "html": rendered.html})
    message = Message(
        request_id=req.id,
        kind=kind,
        key=key,
        recipient=req.email,
        body_encrypted=rt.secrets.encrypt(body),
        status=QUEUED,
        attempts=0,
        created_at=now,
    )
    session.add(message)
    await session.flush()
    await jobs.enqueue(session, SEND, {"message_id": message.id}, now)
    await rt.work_queued(session)
    return message


@dataclass(frozen=True)
class Body:
    subject: str
    text: str
    html: str


def body_of(rt: Runtime, message: Message) -> Body:
    data = json.loads(rt.secrets.decrypt(message.body_encrypted))
    return Body(str(data["subject"]), str(data["text"]), str(data["html"]))


def email_of(rt: Runtime, message: Message, body: Body) -> EmailMessage:
    email = EmailMessage()
    email["From"] = rt.settings.mail_from
    email["To"] = message.recipient
    email["Subject"] = body.subject
    email["Date"] = formatdate(rt.clock.now(), usegmt=True)
    email["Message-ID"] = make_msgid(idstring=message.id, domain=_domain(rt.settings.mail_from))
    email.set_content(body.text)
    email.add_alternative(body.html, subtype="html")
    return email


def _domain(address: str) -> str:
    return address.rpartition("@")[2].strip("> ") or "localhost"


async def deliver(rt: Runtime, job: JobSnapshot) -> JobOutcome:
    """The ``mail.send`` job: send one message through SMTP, or keep it in the outbox."""
    now = rt.clock.now()
    message_id = str(job.payload.get("message_id"))
    async with rt.db.session() as s:
        message = await s.get(Message, message_id)
        if message is None or message.status in (SENT, KEPT, FAILED):
            return JobOutcome.done()
        target = audit.target("message", message.id)
        detail = {"request": message.request_id, "kind": message.kind}
        if not rt.settings.smtp_url:
            message.status, message.transport = KEPT, "outbox"
            audit.record(s, SYSTEM, "message.send", target, now, detail=detail | {"transport": "outbox"})
            await s.commit()
            return JobOutcome.done()
        body = body_of(rt, message)
        email = email_of(rt, message, body)
    try:
        await smtp.send(smtp.SmtpTarget.parse(rt.settings.smtp_url), email, rt.settings.smtp_timeout)
    except (smtp.SendFailure, smtp.SmtpConfigError) as exc:
        reason = str(exc)
        final = getattr(exc, "permanent", False) or job.attempts + 1 >= MAX_ATTEMPTS
        async with rt.db.session() as s:
            message = await s.get(Message, message_id)
            if message is not None:
                message.attempts += 1
                message.last_error = reason
                message.transport = "smtp"
                if final:
                    message.status = FAILED
            audit.record(
                s,
                SYSTEM,
                "message.send",
                target,
                rt.clock.now(),
                "failed",
                message=reason,
                detail=detail | {"transport": "smtp", "attempt": job.attempts + 1},
            )
            await s.commit()
        log.warning("message %s (%s) not sent: %s", message_id, detail["kind"], reason)
        return JobOutcome.failed(reason) if final else JobOutcome.retrying(reason)
    async with rt.db.session() as s:
        message = await s.get(Message, message_id)
        if message is not None:
            message.status, message.transport, message.sent_at = SENT, "smtp", rt.clock.now()
            message.attempts += 1
            message.last_error = None
        audit.record(s, SYSTEM, "message.send", target, rt.clock.now(), detail=detail | {"transport": "smtp"})
        await s.commit()
    return JobOutcome.done()


# The outbox: what super admins read (web UI and CLI).


async def list_messages(
    session: AsyncSession, *, request_id: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[Message], int]:
    query = select(Message)
    if request_id:
        query = query.where(Message.request_id == request_id)
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar() or 0
    rows = await session.execute(
        query.order_by(Message.created_at.desc(), Message.id).limit(limit).offset(offset)
    )
    return list(rows.scalars()), int(total)


async def read_message(
    session: AsyncSession, rt: Runtime, actor: Actor, message_id: str
) -> tuple[Message, Body]:
    """A message with its parts, for a super admin: the reading is audited (it may hold a link)."""
    message = await session.get(Message, message_id)
    if message is None:
        raise NotFound(f"no message {message_id!r}")
    body = body_of(rt, message)
    audit.record(session, actor, "message.read", audit.target("message", message.id), rt.clock.now())
    await session.commit()
    return message, body


def message_view(message: Message, body: Body | None = None) -> dict[str, Any]:
    from rightly.domain.clock import iso

    view: dict[str, Any] = {
        "id": message.id,
        "request_id": message.request_id,
        "kind": message.kind,
        "to": message.recipient,
        "status": message.status,
        "transport": message.transport,
        "attempts": message.attempts,
        "last_error": message.last_error,
        "created_at": iso(message.created_at),
        "sent_at": iso(message.sent_at),
    }
    if body is not None:
        view |= {"subject": body.subject, "text": body.text, "html": body.html}
    return view
