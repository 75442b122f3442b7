"""The audit trail: who did what, to which target, when, and how it went.

Entries are written in the same transaction as the action they record (``record`` adds to the
caller's session; ``stage`` builds the entry just before that session commits, when the new
object's id is known). Vendor calls are not copied here: the engine already keeps each one in the
``evidence`` table, and ``list_entries`` shows them as entries of the actor "system".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, Integer, String, cast, event, func, literal, null, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from rightly.domain.clock import iso
from rightly.store.auth_models import AuditEntry
from rightly.store.models import Evidence, Task

_PENDING = "rightly.audit.pending"


@dataclass(frozen=True)
class Actor:
    """Who acts: a signed-in ``user``, an API ``token`` (``name`` is its user's email), the ``cli``,
    the ``system``, or an ``anonymous`` caller (a failed login names the email it tried)."""

    type: str
    name: str
    credential_id: str | None = None

    @classmethod
    def cli(cls) -> Actor:
        return cls("cli", "cli")


def entry(
    actor: Actor,
    action: str,
    target: str | None,
    at: float,
    outcome: str = "ok",
    *,
    message: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    if actor.credential_id:
        detail = {"credential": actor.credential_id, **(detail or {})}
    return AuditEntry(
        at=at,
        actor_type=actor.type,
        actor=actor.name,
        action=action,
        target=target,
        outcome=outcome,
        message=(message or None) and message[:2000],
        detail=detail,
    )


def record(session: AsyncSession, *args: Any, **kwargs: Any) -> AuditEntry:
    """Add an entry to the session; it is written when (and only if) the session commits."""
    row = entry(*args, **kwargs)
    session.add(row)
    return row


def stage(session: AsyncSession, build: Callable[[Session], AuditEntry | None]) -> None:
    """Build an entry just before ``session`` next commits (after a flush, so ids exist), and write
    it in that same transaction. Use it around a service that commits on its own."""
    sync = session.sync_session
    pending: list[Callable[[Session], AuditEntry | None]] | None = sync.info.get(_PENDING)
    if pending is None:
        pending = sync.info[_PENDING] = []
        event.listen(sync, "before_commit", _write_pending)
    pending.append(build)


def unstage(session: AsyncSession) -> None:
    """Drop what ``stage`` queued (the action failed and was rolled back)."""
    session.sync_session.info.pop(_PENDING, None)
    session.sync_session.info[_PENDING] = []


def _write_pending(sync: Session) -> None:
    builds = sync.info.get(_PENDING) or []
    sync.info[_PENDING] = []
    if not builds:
        return
    sync.flush()
    for build in builds:
        row = build(sync)
        if row is not None:
            sync.add(row)


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    target: str | None = None
    since: float | None = None
    until: float | None = None


def _union() -> Any:
    entries = select(
        (literal("a") + cast(AuditEntry.id, String)).label("id"),
        AuditEntry.id.label("seq"),
        AuditEntry.at.label("at"),
        AuditEntry.actor_type.label("actor_type"),
        AuditEntry.actor.label("actor"),
        AuditEntry.action.label("action"),
        AuditEntry.target.label("target"),
        AuditEntry.outcome.label("outcome"),
        AuditEntry.message.label("message"),
        cast(AuditEntry.detail, String).label("detail"),
        cast(null(), String).label("method"),
        cast(null(), String).label("endpoint"),
        cast(null(), Integer).label("status_code"),
        cast(null(), Float).label("duration_ms"),
    )
    vendor = select(
        (literal("e") + cast(Evidence.id, String)).label("id"),
        Evidence.id.label("seq"),
        Evidence.at.label("at"),
        literal("system").label("actor_type"),
        literal("system").label("actor"),
        (literal("vendor.") + Evidence.kind).label("action"),
        (literal("request:") + Task.request_id).label("target"),
        Evidence.outcome.label("outcome"),
        cast(null(), String).label("message"),
        (literal('{"task": "') + Evidence.task_id + literal('"}')).label("detail"),
        Evidence.method.label("method"),
        Evidence.endpoint.label("endpoint"),
        Evidence.status_code.label("status_code"),
        Evidence.duration_ms.label("duration_ms"),
    ).join(Task, Task.id == Evidence.task_id)
    return union_all(entries, vendor).subquery("audit")


async def list_entries(
    session: AsyncSession, where: AuditFilter, *, limit: int = 50, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """Audit entries and vendor calls, newest first."""
    u = _union()
    query = select(u)
    if where.actor:
        query = query.where(u.c.actor == where.actor)
    if where.action:
        # "connection" matches connection.create, connection.update, ...
        query = query.where((u.c.action == where.action) | u.c.action.startswith(where.action + "."))
    if where.target:
        query = query.where(u.c.target == where.target)
    if where.since is not None:
        query = query.where(u.c.at >= where.since)
    if where.until is not None:
        query = query.where(u.c.at < where.until)
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar() or 0
    rows = await session.execute(
        query.order_by(u.c.at.desc(), u.c.seq.desc(), u.c.id).limit(limit).offset(offset)
    )
    return [entry_view(dict(r._mapping)) for r in rows], int(total)


def entry_view(row: dict[str, Any]) -> dict[str, Any]:
    detail = row.get("detail")
    if isinstance(detail, str):
        try:
            detail = json.loads(detail)
        except ValueError:
            detail = None
    view = {
        "id": row["id"],
        "at": iso(row["at"]),
        "actor_type": row["actor_type"],
        "actor": row["actor"],
        "action": row["action"],
        "target": row["target"],
        "outcome": row["outcome"],
        "message": row["message"],
        "detail": detail if isinstance(detail, dict) else None,
    }
    if row.get("method") is not None or row.get("endpoint") is not None:
        view["vendor_call"] = {
            "method": row["method"],
            "endpoint": row["endpoint"],
            "status_code": row["status_code"],
            "duration_ms": row["duration_ms"],
        }
    else:
        view["vendor_call"] = None
    return view
