"""The database as the queue: lease due tasks, persist what a step decided, under the lease.

Leasing uses ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (ignored by SQLite, where one worker
process runs). A lease expires: a worker that dies loses its tasks to the next one.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from rightly.domain.enums import Phase, Priority, TaskStatus
from rightly.domain.states import rollup, transition
from rightly.domain.work import TaskSnapshot, TaskUpdate
from rightly.engine.retry import BUSY_SECONDS, MAX_ATTEMPTS, backoff
from rightly.store.models import Connection, Evidence, Request, Task

log = logging.getLogger(__name__)

PHASE_PRIORITY = {
    Phase.LOOKUP: Priority.INTERACTIVE,
    Phase.RESOLVE: Priority.SUBMIT,
    Phase.SUBMIT: Priority.SUBMIT,
    Phase.VERIFY: Priority.VERIFY,
    Phase.DONE: Priority.VERIFY,
}


async def lease(
    session: AsyncSession,
    owner: str,
    now: float,
    lease_seconds: float,
    limit: int,
    phases: Sequence[str] | None = None,
    exclude_phases: Sequence[str] | None = None,
    connection_id: str | None = None,
    due_by: float | None = None,
) -> list[Task]:
    """Take up to ``limit`` tasks due by ``due_by`` (default: now), highest priority then oldest
    due first, and lease them to ``owner``."""
    if limit <= 0:
        return []
    query = (
        select(Task.id)
        .where(Task.done.is_(False), Task.next_run_at <= (now if due_by is None else due_by))
        .where((Task.lease_until.is_(None)) | (Task.lease_until < now))
        .order_by(Task.priority, Task.next_run_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if phases:
        query = query.where(Task.phase.in_(phases))
    if exclude_phases:
        query = query.where(Task.phase.not_in(exclude_phases))
    if connection_id is not None:
        query = query.where(Task.connection_id == connection_id)
    ids = list((await session.execute(query)).scalars())
    if not ids:
        await session.commit()
        return []
    await session.execute(
        update(Task).where(Task.id.in_(ids)).values(lease_owner=owner, lease_until=now + lease_seconds)
    )
    await session.execute(
        update(Task)
        .where(Task.id.in_(ids), Task.status == TaskStatus.NOT_STARTED)
        .values(status=TaskStatus.PENDING, updated_at=now)
    )
    await session.commit()
    rows = await session.execute(
        select(Task)
        .where(Task.id.in_(ids), Task.lease_owner == owner)
        .options(joinedload(Task.request), joinedload(Task.connection))
        .execution_options(populate_existing=True)
    )
    return list(rows.scalars())


async def connections_with_due(session: AsyncSession, now: float, phase: str) -> list[str]:
    """Connections with at least one unleased task in ``phase`` due now."""
    rows = await session.execute(
        select(Task.connection_id)
        .where(Task.done.is_(False), Task.phase == phase, Task.next_run_at <= now)
        .where((Task.lease_until.is_(None)) | (Task.lease_until < now))
        .distinct()
    )
    return list(rows.scalars())


async def next_due(session: AsyncSession) -> float | None:
    """When the earliest unfinished task can next be leased (due, and any lease expired)."""
    ready = case(
        (Task.lease_until.is_not(None) & (Task.lease_until > Task.next_run_at), Task.lease_until),
        else_=Task.next_run_at,
    )
    result = await session.execute(select(func.min(ready)).where(Task.done.is_(False)))
    value = result.scalar()
    return float(value) if value is not None else None


async def record_intent(session: AsyncSession, owner: str, task_ids: list[str], now: float) -> None:
    await session.execute(
        update(Task)
        .where(Task.id.in_(task_ids), Task.lease_owner == owner)
        .values(submit_intent_at=now, updated_at=now)
    )
    await session.commit()


def snapshot(task: Task) -> TaskSnapshot:
    req = task.request
    return TaskSnapshot(
        id=task.id,
        request_id=task.request_id,
        request_type=req.type,
        email=req.email,
        user_id=req.user_id,
        status=task.status,
        phase=task.phase,
        targets=dict(task.targets) if task.targets else None,
        attempts=task.attempts,
        submit_count=task.submit_count,
        submitted_at=task.submitted_at,
        first_submitted_at=task.first_submitted_at,
        checks=task.checks,
        created_at=task.created_at,
    )


async def persist(session: AsyncSession, owner: str, updates: list[TaskUpdate], now: float) -> None:
    """Write step outcomes for tasks still leased to ``owner`` and roll their requests' status up,
    in one transaction with a handful of statements however many updates there are."""
    ids = [u.task_id for u in updates]
    rows = await session.execute(
        select(Task).where(Task.id.in_(ids)).with_for_update().execution_options(populate_existing=True)
    )
    tasks = {t.id: t for t in rows.scalars()}
    touched: set[str] = set()
    failing: dict[str, str] = {}
    evidence: list[dict[str, Any]] = []
    for upd in updates:
        task = tasks.get(upd.task_id)
        if task is None or task.lease_owner != owner or task.done:
            log.info("dropping the outcome for task %s: lease lost or task already finished", upd.task_id)
            continue
        _apply(task, upd, now)
        evidence += [
            {
                "task_id": task.id,
                "at": ev.at,
                "kind": ev.kind,
                "method": ev.method,
                "endpoint": ev.endpoint,
                "status_code": ev.status_code,
                "duration_ms": ev.duration_ms,
                "outcome": ev.outcome[:300],
                "data": ev.data,
            }
            for ev in upd.evidence
        ]
        if upd.connection_failing:
            failing[task.connection_id] = upd.connection_failing
        touched.add(task.request_id)
    await session.flush()
    if evidence:
        await session.execute(insert(Evidence), evidence)
    for connection_id, reason in failing.items():
        await session.execute(
            update(Connection)
            .where(Connection.id == connection_id)
            .values(health="failing", health_detail=reason, updated_at=now)
        )
    await refresh_requests(session, touched, now)
    await session.commit()


def _apply(task: Task, upd: TaskUpdate, now: float) -> None:
    changes: dict[str, Any] = dict(upd.changes)
    if upd.busy and not changes:
        task.next_run_at = now + BUSY_SECONDS
    elif upd.retry:
        task.attempts += 1
        if task.attempts >= MAX_ATTEMPTS:
            changes |= {
                "status": TaskStatus.ERROR,
                "detail": "CleverTap kept failing",
                "error": f"gave up after {task.attempts} attempts; last: {upd.retry}",
                "done": True,
                "phase": Phase.DONE,
                "completed_at": now,
            }
        else:
            task.next_run_at = now + backoff(task.attempts)
            changes.setdefault("detail", f"retrying (attempt {task.attempts + 1}): {upd.retry}"[:300])
    else:
        task.attempts = 0
    if "status" in changes:
        task.status = transition(task.status, changes.pop("status"))
    for name, value in changes.items():
        setattr(task, name, value)
    if "phase" in upd.changes:
        task.priority = int(PHASE_PRIORITY[Phase(task.phase)])
    task.lease_owner = None
    task.lease_until = None
    task.updated_at = now


async def refresh_requests(session: AsyncSession, request_ids: set[str], now: float) -> list[Request]:
    """Roll each request's status up from its tasks' (two queries for any number of requests)."""
    if not request_ids:
        return []
    statuses: dict[str, list[str]] = defaultdict(list)
    rows = await session.execute(select(Task.request_id, Task.status).where(Task.request_id.in_(request_ids)))
    for request_id, status in rows:
        statuses[request_id].append(status)
    reqs = await session.execute(
        select(Request)
        .where(Request.id.in_(request_ids))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    found = list(reqs.scalars())
    for req in found:
        new = rollup(statuses[req.id])
        if new != req.status:
            req.status = new
            req.updated_at = now
            req.completed_at = now if new in ("complete", "error", "canceled") else None
    return found


async def refresh_request(session: AsyncSession, request_id: str, now: float) -> Request:
    (req,) = await refresh_requests(session, {request_id}, now)
    return req
