"""The audit trail: who did what, to which target, when, and how it went.

Entries are written by the services, in the same transaction as the action they record, whichever
face asked (``record`` adds to the service's session; ``failure`` records an action that failed,
after undoing it). Vendor calls are not copied here: the engine already keeps each one in the
``evidence`` table, and ``list_entries`` shows them as entries of the actor "system".
"""

from __future__ import annotations

import getpass
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, Integer, String, cast, func, literal, null, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from rightly.domain.clock import iso
from rightly.domain.text import storable, storable_json
from rightly.store.auth_models import AuditEntry
from rightly.store.models import Evidence, Task


@dataclass(frozen=True)
class Actor:
    """Who acts: a signed-in ``user``, an API ``token`` (``name`` is its user's email), the ``cli``,
    the ``system``, or an ``anonymous`` caller (a failed login names the email it tried)."""

    type: str
    name: str
    credential_id: str | None = None

    @classmethod
    def cli(cls) -> Actor:
        """The local operator running the command line (their OS user name)."""
        try:
            who = getpass.getuser()
        except (KeyError, OSError):
            who = "unknown"
        return cls("cli", f"cli:{who}"[:320])


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
    """An entry, every text bounded to its column and stripped of what no database holds: an entry
    often names what someone typed (a failed sign-in's email, a path), which may be anything."""
    if actor.credential_id:
        detail = {"credential": actor.credential_id, **(detail or {})}
    return AuditEntry(
        at=at,
        actor_type=storable(actor.type, 10),
        actor=storable(actor.name, 320),
        action=storable(action, 50),
        target=None if target is None else storable(target, 200),
        outcome=storable(outcome, 20),
        message=storable(message, 2000) if message else None,
        detail=storable_json(detail) if detail is not None else None,
    )


def record(session: AsyncSession, *args: Any, **kwargs: Any) -> AuditEntry:
    """Add an entry to the session; it is written when (and only if) the session commits."""
    row = entry(*args, **kwargs)
    session.add(row)
    return row


async def failure(
    session: AsyncSession,
    actor: Actor,
    action: str,
    target: str | None,
    at: float,
    exc: BaseException,
    detail: dict[str, Any] | None = None,
) -> None:
    """An action failed: undo whatever it staged, then record the failure on its own."""
    await session.rollback()
    record(session, actor, action, target, at, "failed", message=str(exc), detail=detail)
    await session.commit()


def target(kind: str, key: str | None) -> str:
    """An entry's target ("request:req_…"), bounded to what the column holds."""
    return storable(f"{kind}:{key or '?'}", 200)


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
        cast(null(), String).label("host"),
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
        cast(Evidence.host, String).label("host"),
        cast(Evidence.endpoint, String).label("endpoint"),
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
            "host": row["host"],
            "endpoint": row["endpoint"],
            "status_code": row["status_code"],
            "duration_ms": row["duration_ms"],
        }
    else:
        view["vendor_call"] = None
    return view
