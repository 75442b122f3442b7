"""The database as the queue: lease due tasks, persist what a step decided, under the lease.

Leasing uses ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (ignored by SQLite, where one worker
process runs). A lease expires: a worker that dies loses its tasks to the next one.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Row, Select, Table, bindparam, case, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rightly.connectors.base import Registry
from rightly.domain.enums import TERMINAL_REQUEST, TERMINAL_TASK, RequestStatus, TaskStatus
from rightly.domain.states import rollup, transition
from rightly.domain.work import DONE, TaskSnapshot, TaskUpdate
from rightly.engine.events import TERMINAL_EVENTS, Events
from rightly.engine.retry import BUSY_SECONDS, MAX_ATTEMPTS, backoff
from rightly.store import chain
from rightly.store.models import Connection, Evidence, Request, Task

log = logging.getLogger(__name__)
# The hot path uses the tables directly (Core): no ORM objects to build, track and flush.
T = cast(Table, Task.__table__)
R = cast(Table, Request.__table__)
E = cast(Table, Evidence.__table__)
C = cast(Table, Connection.__table__)


@dataclass(frozen=True)
class Leased:
    """A task leased to this worker: what its step sees, and which connection it runs against."""

    snapshot: TaskSnapshot
    connection_id: str


_SNAPSHOT = (
    T.c.id,
    T.c.request_id,
    R.c.type,
    R.c.email,
    R.c.user_id,
    T.c.status,
    T.c.phase,
    T.c.state,
    T.c.attempts,
    T.c.submit_count,
    T.c.submitted_at,
    T.c.first_submitted_at,
    T.c.checks,
    T.c.created_at,
    T.c.connection_id,
)


def _due(batched: bool) -> Select[tuple[str]]:
    """Ids of a connection's unleased tasks due by ``due_by``, highest priority (interactive first)
    then oldest due first: those in its batched phases, or (``batched=False``) all the others."""
    phases: Any = bindparam("batched", expanding=True)
    return (
        select(T.c.id)
        .where(
            T.c.done.is_(False),
            T.c.connection_id == bindparam("connection_id"),
            T.c.phase.in_(phases) if batched else T.c.phase.not_in(phases),
            T.c.next_run_at <= bindparam("due_by"),
            T.c.lease_until.is_(None) | (T.c.lease_until < bindparam("now")),
        )
        .order_by(T.c.priority, T.c.next_run_at)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True)
    )


# Built once: constructing a statement costs about as much CPU as running it.
_DUE = {True: _due(True), False: _due(False)}
_STARTING = T.c.status == TaskStatus.NOT_STARTED
_TAKE = (
    update(T)
    .where(T.c.id.in_(bindparam("ids", expanding=True)))
    .values(
        lease_owner=bindparam("owner"),
        lease_until=bindparam("until"),
        status=case((_STARTING, TaskStatus.PENDING), else_=T.c.status),
        updated_at=case((_STARTING, bindparam("now")), else_=T.c.updated_at),
    )
)
_SNAPSHOTS = (
    select(*_SNAPSHOT)
    .join_from(T, R, T.c.request_id == R.c.id)
    .where(T.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(T.c.priority, T.c.next_run_at)
)
_BATCH_DUE = (
    select(T.c.connection_id, T.c.phase)
    .where(
        T.c.done.is_(False),
        T.c.phase.in_(bindparam("batched", expanding=True)),
        T.c.next_run_at <= bindparam("now"),
    )
    .where(T.c.lease_until.is_(None) | (T.c.lease_until < bindparam("now")))
    .distinct()
)


async def lease(
    session: AsyncSession,
    owner: str,
    connection_id: str,
    now: float,
    lease_seconds: float,
    limit: int,
    *,
    batched: frozenset[str] = frozenset(),
    in_batches: bool = False,
    due_by: float | None = None,
) -> list[Leased]:
    """Lease to ``owner`` up to ``limit`` of the connection's tasks due by ``due_by`` (default: now):
    those in its ``batched`` phases (``in_batches``), or its other steps, interactive ones first.
    Three statements however many tasks; the caller commits (the worker leases and persists in one
    transaction per round)."""
    if limit <= 0:
        return []
    due = {
        "connection_id": connection_id,
        "due_by": now if due_by is None else due_by,
        "now": now,
        "batched": sorted(batched),
    }
    ids = list((await session.execute(_DUE[in_batches], due | {"limit": limit})).scalars())
    if not ids:
        return []
    await session.execute(_TAKE, {"ids": ids, "owner": owner, "until": now + lease_seconds, "now": now})
    rows = await session.execute(_SNAPSHOTS, {"ids": ids})
    return [Leased(TaskSnapshot(*row[:-1]), row[-1]) for row in rows]


async def due_batches(session: AsyncSession, now: float, batched: frozenset[str]) -> list[tuple[str, str]]:
    """(connection, phase) pairs with at least one unleased task due now in one of the ``batched``
    phases (the caller checks each phase is batched for that connection's vendor)."""
    if not batched:
        return []
    rows = await session.execute(_BATCH_DUE, {"now": now, "batched": sorted(batched)})
    return [(row[0], row[1]) for row in rows]


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


_CURRENT = (
    select(T.c.id, T.c.lease_owner, T.c.done, T.c.status, T.c.attempts, T.c.phase)
    .add_columns(T.c.request_id, T.c.connection_id, T.c.submit_count, T.c.first_submitted_at, T.c.checks)
    .add_columns(C.c.vendor)
    .join_from(T, C, T.c.connection_id == C.c.id)
    .where(T.c.id.in_(bindparam("ids", expanding=True)))
    .with_for_update(of=T)
)
_SET_TASK = update(T).where(T.c.id == bindparam("b_id"))  # SET: the keys of the parameters
_ADD_EVIDENCE = insert(E)
_ROLLUP = (
    select(R.c.id, R.c.status, T.c.status)
    .join_from(R, T, T.c.request_id == R.c.id, isouter=True)
    .where(R.c.id.in_(bindparam("ids", expanding=True)))
    .with_for_update(of=R)
)
_SET_REQUEST = update(R).where(R.c.id == bindparam("b_id"))


async def persist(
    session: AsyncSession,
    registry: Registry,
    owner: str,
    updates: list[TaskUpdate],
    now: float,
    events: Events | None = None,
) -> None:
    """Write step outcomes for tasks still leased to ``owner`` and roll their requests' status up:
    a handful of statements however many updates there are. Events (an integration failed, a
    connection turned unhealthy, a request finished) are emitted in the same transaction. The
    caller commits."""
    rows = await session.execute(_CURRENT, {"ids": [u.task_id for u in updates]})
    current = {row.id: row for row in rows}
    touched: set[str] = set()
    failing: dict[str, str] = {}
    failed_tasks: list[Row[Any]] = []
    evidence: list[dict[str, Any]] = []
    writes: dict[frozenset[str], list[dict[str, Any]]] = defaultdict(list)
    for upd in updates:
        row = current.get(upd.task_id)
        if row is None or row.lease_owner != owner or row.done:
            log.info("dropping the outcome for task %s: lease lost or task already finished", upd.task_id)
            continue
        values = _apply(registry, row, upd, now)
        writes[frozenset(values)].append({"b_id": row.id, **values})
        if values.get("status") == TaskStatus.ERROR:
            failed_tasks.append(row)
        evidence += [
            {
                "task_id": row.id,
                "at": ev.at,
                "kind": ev.kind,
                "method": ev.method,
                "host": ev.host,
                "endpoint": ev.endpoint,
                "status_code": ev.status_code,
                "duration_ms": ev.duration_ms,
                "outcome": ev.outcome[:2000],
                "data": ev.data,
            }
            for ev in upd.evidence
        ]
        if upd.connection_failing:
            failing[row.connection_id] = upd.connection_failing
        touched.add(row.request_id)
    for params in writes.values():  # one executemany per set of changed columns
        await session.execute(_SET_TASK, params)
    if evidence:  # sealed in the evidence chain (store/chain.py), in the order the steps reported them
        await session.run_sync(chain.seal, chain.EVIDENCE, evidence)
        await session.execute(_ADD_EVIDENCE, evidence)
    for connection_id, reason in failing.items():
        turned = await session.execute(
            update(Connection)
            .where(Connection.id == connection_id, Connection.health != "failing")
            .values(health="failing", health_detail=reason, updated_at=now)
        )
        if events is not None and int(getattr(turned, "rowcount", 0) or 0):
            await events.emit(session, "connection.unhealthy", {"connection_id": connection_id}, now)
    if events is not None:
        for row in failed_tasks:
            data = {"request_id": row.request_id, "task_id": row.id, "connection_id": row.connection_id}
            await events.emit(session, "integration.failed", data, now)
    await refresh_requests(session, touched, now, events)


def _apply(registry: Registry, row: Row[Any], upd: TaskUpdate, now: float) -> dict[str, Any]:
    """The column values ``upd`` sets on the task in ``row`` (leased, not finished)."""
    values: dict[str, Any] = {}
    status, phase, detail, error = upd.status, upd.phase, upd.detail, upd.error
    attempts = row.attempts
    if upd.busy and not _says_anything(upd):
        values["next_run_at"] = now + BUSY_SECONDS
    elif upd.retry:
        attempts += 1
        if attempts >= MAX_ATTEMPTS:
            status, phase = TaskStatus.ERROR, DONE
            detail = f"{registry.get(row.vendor).label} kept failing"
            error = f"gave up after {attempts} attempts; last: {upd.retry}"
        else:
            values["next_run_at"] = now + backoff(attempts)
            detail = detail or f"retrying (attempt {attempts + 1}): {upd.retry}"
    else:
        attempts = 0
    if status is not None:
        values["status"] = transition(row.status, status)
        if status in TERMINAL_TASK:
            values |= {"done": True, "completed_at": now}
            phase = DONE
    if phase is not None:
        values["phase"] = phase
        values["priority"] = int(registry.priority(row.vendor, phase))
    if detail is not None:
        values["detail"] = detail[:300]
    if error is not None:
        values["error"] = error[:4000]
    if upd.next_run_at is not None and "next_run_at" not in values:
        values["next_run_at"] = upd.next_run_at
    if upd.state is not None:
        values["state"] = upd.state
    if upd.records is not None:
        values["records"] = upd.records
    if upd.overdue is not None:
        values["overdue"] = upd.overdue
    if upd.submitted:
        values |= {
            "submitted_at": now,
            "first_submitted_at": row.first_submitted_at or now,
            "submit_count": row.submit_count + 1,
        }
    if upd.checked:
        values |= {"checks": row.checks + 1, "last_checked_at": now}
    values |= {"attempts": attempts, "lease_owner": None, "lease_until": None, "updated_at": now}
    return values


def _says_anything(upd: TaskUpdate) -> bool:
    """True when a busy update also carries an outcome (it is then not just 'come back soon')."""
    return any(
        v is not None for v in (upd.status, upd.phase, upd.detail, upd.error, upd.state, upd.records)
    ) or (upd.submitted or upd.checked)


async def refresh_requests(
    session: AsyncSession, request_ids: set[str], now: float, events: Events | None = None
) -> None:
    """Roll each request's status up from its tasks' (two statements for any number of requests);
    a request that reaches an end emits its event."""
    if not request_ids:
        return
    old: dict[str, str] = {}
    statuses: dict[str, list[str]] = defaultdict(list)
    for request_id, request_status, task_status in await session.execute(_ROLLUP, {"ids": list(request_ids)}):
        old[request_id] = request_status
        if task_status is not None:
            statuses[request_id].append(task_status)
    changed: list[dict[str, Any]] = []
    for request_id, status in old.items():
        new = rollup(statuses[request_id], status)
        if new != status:
            done = new in TERMINAL_REQUEST
            changed.append(
                {"b_id": request_id, "status": new, "updated_at": now, "completed_at": now if done else None}
            )
    if changed:
        await session.execute(_SET_REQUEST, changed)
    if events is not None:
        for change in changed:
            event = TERMINAL_EVENTS.get(RequestStatus(change["status"]))
            if event is not None:
                await events.emit(session, event, {"request_id": change["b_id"]}, now)
