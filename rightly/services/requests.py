"""Request use cases: submit, show, list, cancel, retry. One task per active connection; each
connection's connector says how its task starts. Each change is audited here."""

from __future__ import annotations

from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from rightly.domain.clock import iso
from rightly.domain.enums import HELD_REQUEST, TERMINAL_REQUEST, RequestStatus, RequestType, TaskStatus
from rightly.domain.regulations import Regulation
from rightly.domain.text import control_characters
from rightly.domain.work import DONE, TaskSnapshot
from rightly.engine.dispatch import connection_config
from rightly.engine.events import Events
from rightly.engine.queue import refresh_requests
from rightly.services import audit, deadlines, verification
from rightly.services.audit import Actor
from rightly.services.errors import Conflict, InvalidInput, NotFound
from rightly.services.planning import plan_tasks
from rightly.services.runtime import Runtime
from rightly.store.models import Request, Task


def normalize_subject(email: str | None, user_id: str | None) -> tuple[str | None, str | None]:
    """Check the subject: at least one identifier, a well-formed email, a sane user ID."""
    email = (email or "").strip() or None
    user_id = (user_id or "").strip() or None
    if email is None and user_id is None:
        raise InvalidInput("a request needs the subject's email or user ID (or both)")
    if email is not None:
        if control_characters(email):
            raise InvalidInput("the email must be printable text")
        if len(email) > 320:
            raise InvalidInput("the email is longer than 320 characters")
        try:
            email = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise InvalidInput(f"{email!r} is not a valid email address: {exc}") from None
    if user_id is not None and (len(user_id) > 256 or control_characters(user_id)):
        raise InvalidInput("the user ID must be at most 256 printable characters")
    return email, user_id


async def submit(
    session: AsyncSession,
    rt: Runtime,
    actor: Actor,
    kind: RequestType | str,
    email: str | None,
    user_id: str | None,
    *,
    idempotency_key: str | None = None,
    verified: bool = True,
    regulation: str | None = None,
) -> tuple[Request, bool]:
    """Create a request and its tasks. Returns (request, created); an idempotency key seen before
    returns the earlier request and creates nothing (and says so in the audit trail).

    ``verified``: the person making it vouches for the subject's identity. When not, and there is
    an email, the request is held (``pending_verification``, no tasks) and the subject gets the
    verification email (``rightly.services.verification``); without an email there is nothing to
    verify, and the request runs on the maker's word. ``regulation``: gdpr, ccpa or other (default:
    RIGHTLY_DEFAULT_REGULATION); it sets the deadline."""
    now = rt.clock.now()
    detail: dict[str, object] = {"type": str(kind)}
    try:
        kind = RequestType(kind)
        email, user_id = normalize_subject(email, user_id)
        reg = deadlines.regulation_for(rt.settings, regulation)
        hold = not verified and email is not None
        detail |= {
            "regulation": reg.value,
            "verified": "by the maker" if verified else ("pending" if hold else "no email to verify"),
        }
        if idempotency_key:
            earlier = await _replayed(session, actor, kind, email, user_id, idempotency_key, now)
            if earlier is not None:
                return earlier, False
        req = await _create(session, rt, actor, kind, email, user_id, idempotency_key, now, reg, hold)
        await session.flush()
        audit.record(session, actor, "request.submit", audit.target("request", req.id), now, detail=detail)
        if hold:
            await verification.send_link(session, rt, req, now)
        else:
            if verified:
                req.verified_at, req.verified_by = now, actor.name
            await rt.emit(session, "request.received", {"request_id": req.id})
        await rt.work_queued(session)
        await session.commit()
    except IntegrityError:
        # The same Idempotency-Key, submitted twice at once: the other submission won; return it.
        await session.rollback()
        earlier = await _by_idempotency_key(session, idempotency_key) if idempotency_key else None
        if earlier is None:
            raise
        return earlier, False
    except (InvalidInput, Conflict, ValueError) as exc:
        error = exc if isinstance(exc, InvalidInput | Conflict) else InvalidInput(str(exc))
        await audit.failure(session, actor, "request.submit", "request:?", now, error, detail)
        raise error from None
    rt.poke()
    return req, True  # loaded as written: tasks and their connections are already in memory


async def _replayed(
    session: AsyncSession,
    actor: Actor,
    kind: RequestType,
    email: str | None,
    user_id: str | None,
    key: str,
    now: float,
) -> Request | None:
    earlier = await _by_idempotency_key(session, key)
    if earlier is None:
        return None
    if (earlier.type, earlier.email, earlier.user_id) != (kind.value, email, user_id):
        raise Conflict("this Idempotency-Key was used for a different request")
    audit.record(
        session,
        actor,
        "request.submit",
        audit.target("request", earlier.id),
        now,
        "replayed",
        message="Idempotency-Key seen before: the earlier request was returned",
    )
    await session.commit()
    return earlier


async def _create(
    session: AsyncSession,
    rt: Runtime,
    actor: Actor,
    kind: RequestType,
    email: str | None,
    user_id: str | None,
    idempotency_key: str | None,
    now: float,
    regulation: Regulation,
    hold: bool,
) -> Request:
    """The request and (unless held for verification) one task per live connection."""
    tasks = [] if hold else await plan_tasks(session, rt, kind, email, user_id, now)
    if not hold and not tasks:
        raise InvalidInput(
            "no connection is configured: connect an integration first (rightly connect --help)"
        )
    req = Request(
        type=kind.value,
        status=RequestStatus.PENDING_VERIFICATION if hold else RequestStatus.RECEIVED,
        email=email,
        user_id=user_id,
        idempotency_key=idempotency_key,
        submitted_by=actor.name,
        created_at=now,
        updated_at=now,
        regulation=regulation.value,
        origin="staff",
        received_at=None if hold else now,
        due_at=deadlines.provisional_due(rt.settings, regulation, now),
        tasks=tasks,
    )
    session.add(req)
    return req


async def _by_idempotency_key(session: AsyncSession, key: str) -> Request | None:
    rows = await session.execute(
        select(Request)
        .where(Request.idempotency_key == key)
        .options(selectinload(Request.tasks).selectinload(Task.connection))
    )
    return rows.scalar_one_or_none()


async def get_request(session: AsyncSession, request_id: str) -> Request:
    rows = await session.execute(
        select(Request)
        .where(Request.id == request_id)
        .options(selectinload(Request.tasks).selectinload(Task.connection))
        .execution_options(populate_existing=True)
    )
    req = rows.scalar_one_or_none()
    if req is None:
        raise NotFound(f"no request {request_id!r}")
    return req


async def list_requests(
    session: AsyncSession,
    *,
    status: str | None = None,
    kind: str | None = None,
    email: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Request], int]:
    query = select(Request)
    if status:
        query = query.where(Request.status == status)
    if kind:
        query = query.where(Request.type == kind)
    if email:
        query = query.where(func.lower(Request.email) == email.strip().lower())
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar() or 0
    rows = await session.execute(
        query.order_by(Request.created_at.desc(), Request.id)
        .limit(limit)
        .offset(offset)
        .options(selectinload(Request.tasks).selectinload(Task.connection))
    )
    return list(rows.scalars()), int(total)


async def cancel(session: AsyncSession, rt: Runtime, actor: Actor, request_id: str) -> Request:
    now = rt.clock.now()
    target = audit.target("request", request_id)
    try:
        req = await get_request(session, request_id)
        if req.status in TERMINAL_REQUEST:
            raise Conflict(f"request {request_id} is already {req.status}")
    except (NotFound, Conflict) as exc:
        await audit.failure(session, actor, "request.cancel", target, now, exc)
        raise
    if req.status in HELD_REQUEST:  # not running yet: no tasks to cancel
        req.status, req.completed_at, req.updated_at = RequestStatus.CANCELED, now, now
        audit.record(session, actor, "request.cancel", target, now, detail={"canceled_tasks": 0})
        await rt.emit(session, "request.canceled", {"request_id": req.id})
        await session.commit()
        return await get_request(session, req.id)
    canceled = await cancel_open_tasks(session, Task.request_id == req.id, "canceled", now, rt.events)
    audit.record(session, actor, "request.cancel", target, now, detail={"canceled_tasks": canceled})
    await session.commit()
    return await get_request(session, req.id)


async def retry(session: AsyncSession, rt: Runtime, actor: Actor, request_id: str) -> Request:
    """Run a request's failed or canceled integrations again, from where they stood (their
    connector says where that is)."""
    now = rt.clock.now()
    target = audit.target("request", request_id)
    try:
        req = await get_request(session, request_id)
        again = [
            t
            for t in req.tasks
            if t.status in (TaskStatus.ERROR, TaskStatus.CANCELED) and t.connection.removed_at is None
        ]
        if not again:
            raise Conflict(f"request {request_id} has no failed or canceled integration to retry")
    except (NotFound, Conflict) as exc:
        await audit.failure(session, actor, "request.retry", target, now, exc)
        raise
    kind = RequestType(req.type)
    for task in again:
        config = connection_config(task.connection, rt.registry, rt.secrets)
        plan = rt.registry.get(task.connection.vendor).restart(config, kind, snapshot(task, req))
        task.status = TaskStatus.PENDING
        task.phase = plan.phase
        task.state = plan.state
        task.priority = int(rt.registry.priority(task.connection.vendor, plan.phase))
        task.done = False
        task.error = None
        task.detail = "retry requested"
        task.attempts = 0
        task.next_run_at = now
        task.completed_at = None
        task.lease_owner = None
        task.lease_until = None
        task.updated_at = now
    await session.flush()
    await refresh_requests(session, {req.id}, now, rt.events)
    audit.record(session, actor, "request.retry", target, now, detail={"tasks": len(again)})
    await rt.work_queued(session)
    await session.commit()
    rt.poke()
    return await get_request(session, req.id)


def snapshot(task: Task, req: Request) -> TaskSnapshot:
    """A stored task as its connector sees it."""
    return TaskSnapshot(
        id=task.id,
        request_id=req.id,
        request_type=req.type,
        email=req.email,
        user_id=req.user_id,
        status=task.status,
        phase=task.phase,
        state=task.state,
        attempts=task.attempts,
        submit_count=task.submit_count,
        submitted_at=task.submitted_at,
        first_submitted_at=task.first_submitted_at,
        checks=task.checks,
        created_at=task.created_at,
    )


async def cancel_open_tasks(
    session: AsyncSession,
    condition: ColumnElement[bool],
    detail: str,
    now: float,
    events: Events | None = None,
) -> int:
    """Cancel every unfinished task matching ``condition`` (releasing any lease) and roll up the
    status of the requests they belong to. Returns how many tasks were canceled."""
    open_ = (Task.done.is_(False), condition)
    request_ids = set((await session.execute(select(Task.request_id).where(*open_))).scalars())
    result = await session.execute(
        update(Task)
        .where(*open_)
        .values(
            status=TaskStatus.CANCELED,
            done=True,
            phase=DONE,
            detail=detail,
            lease_owner=None,
            lease_until=None,
            completed_at=now,
            updated_at=now,
        )
    )
    await refresh_requests(session, request_ids, now, events)
    return int(getattr(result, "rowcount", 0) or 0)


def request_view(req: Request) -> dict[str, Any]:
    """The request as ``--json`` and the API show it."""
    return {
        "id": req.id,
        "type": req.type,
        "status": req.status,
        "subject": {"email": req.email, "user_id": req.user_id},
        "regulation": req.regulation,
        "origin": req.origin,
        "created_at": iso(req.created_at),
        "updated_at": iso(req.updated_at),
        "received_at": iso(req.received_at),
        "due_at": iso(req.due_at) if req.received_at is not None else None,
        "completed_at": iso(req.completed_at),
        "verified_at": iso(req.verified_at),
        "verified_by": req.verified_by,
        "extended_at": iso(req.extended_at),
        "extension_reason": req.extension_reason,
        "decided_by": req.decided_by,
        "denial_reason": req.denial_reason,
        "integrations": [task_view(t) for t in req.tasks],
    }


def task_view(task: Task) -> dict[str, Any]:
    return {
        "connection": task.connection.name,
        "status": task.status,
        "detail": task.detail,
        "records": task.records if task.records is not None else ([] if task.phase == DONE else None),
        "error": task.error,
        "phase": task.phase,
        "overdue": task.overdue,
        "submitted_at": iso(task.submitted_at),
        "checks": task.checks,
        "last_checked_at": iso(task.last_checked_at),
        "completed_at": iso(task.completed_at),
    }
