"""Background jobs: the durable queue for work that is not a vendor step (sending a message,
delivering a webhook, a periodic sweep), run by the same workers as tasks.

A job row carries its kind, a payload (never a secret or a link token: handlers look those up),
``next_run_at``, a lease and ``attempts``. A handler returns a ``JobOutcome``: done, retry (an
attempt is counted, with backoff, and the reason is kept in ``last_error``), fail (given up, the
reason kept), or again (a recurring job: run once more at a time, attempts reset). A handler that
raises is a retry with the exception's type as the reason. After ``max_attempts`` a job fails.

Written by hand: the queue is the database (DESIGN.md), the same lease-and-persist discipline as
tasks. Celery, RQ, arq, Dramatiq and procrastinate were considered: each needs a broker or owns its
own tables and worker processes, where Rightly's embedded mode has one SQLite file and one process,
and its workers already lease from the database.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from rightly.store.models import Job, new_id

J = cast(Table, Job.__table__)
PENDING, DONE, FAILED = "pending", "done", "failed"
RECURRING = "recurring:"  # key prefix of jobs that reschedule themselves forever


@dataclass(frozen=True)
class JobSnapshot:
    id: str
    kind: str
    payload: dict[str, Any]
    attempts: int
    created_at: float


@dataclass(frozen=True)
class JobOutcome:
    retry: str | None = None
    retry_after: float | None = None  # seconds; default: the kind's backoff
    fail: str | None = None
    again_at: float | None = None

    @classmethod
    def done(cls) -> JobOutcome:
        return cls()

    @classmethod
    def retrying(cls, reason: str, after: float | None = None) -> JobOutcome:
        return cls(retry=reason, retry_after=after)

    @classmethod
    def failed(cls, reason: str) -> JobOutcome:
        return cls(fail=reason)

    @classmethod
    def again(cls, at: float) -> JobOutcome:
        return cls(again_at=at)


Handler = Callable[[JobSnapshot], Awaitable[JobOutcome]]


@dataclass(frozen=True)
class JobKind:
    """How one kind of job runs: its handler, how often it may fail, and its backoff."""

    handler: Handler
    max_attempts: int = 10
    base_delay: float = 5.0
    max_delay: float = 3600.0

    def delay(self, attempt: int) -> float:
        ceiling = min(self.max_delay, self.base_delay * 2 ** max(0, attempt - 1))
        return ceiling * (0.5 + 0.5 * random.random())


@dataclass
class JobKinds:
    """The handlers a worker runs, by kind (built by the composition root)."""

    kinds: dict[str, JobKind] = field(default_factory=dict)

    def add(self, kind: str, handler: Handler, **options: Any) -> None:
        self.kinds[kind] = JobKind(handler, **options)

    def __contains__(self, kind: object) -> bool:
        return kind in self.kinds

    def __bool__(self) -> bool:
        return bool(self.kinds)


async def enqueue(
    session: AsyncSession,
    kind: str,
    payload: Mapping[str, Any],
    now: float,
    *,
    run_at: float | None = None,
    key: str | None = None,
) -> None:
    """Add a job in the caller's transaction (it runs only if that commits). With a ``key``, a job
    that already has it is left as it is: at most one per key."""
    values = {
        "id": new_id("job"),
        "kind": kind,
        "key": key[:200] if key else None,
        "payload": dict(payload),
        "status": PENDING,
        "next_run_at": now if run_at is None else run_at,
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
    }
    dialect = session.bind.dialect.name
    if key is not None and dialect in ("postgresql", "sqlite"):
        insert = postgresql.insert(J) if dialect == "postgresql" else sqlite.insert(J)
        await session.execute(insert.values(**values).on_conflict_do_nothing(index_elements=["key"]))
        return
    await session.execute(J.insert().values(**values))


_DUE = (
    select(J.c.id)
    .where(
        J.c.status == PENDING,
        J.c.kind.in_(bindparam("kinds", expanding=True)),
        J.c.next_run_at <= bindparam("now"),
        J.c.lease_until.is_(None) | (J.c.lease_until < bindparam("now")),
    )
    .order_by(J.c.next_run_at)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
_TAKE = (
    update(J)
    .where(J.c.id.in_(bindparam("ids", expanding=True)))
    .values(lease_owner=bindparam("owner"), lease_until=bindparam("until"))
)
_SNAPSHOTS = select(J.c.id, J.c.kind, J.c.payload, J.c.attempts, J.c.created_at).where(
    J.c.id.in_(bindparam("ids", expanding=True))
)


async def lease(
    session: AsyncSession, owner: str, kinds: JobKinds, now: float, lease_seconds: float, limit: int
) -> list[JobSnapshot]:
    """Lease up to ``limit`` due jobs of the kinds this worker runs; the caller commits."""
    if limit <= 0 or not kinds:
        return []
    params = {"kinds": sorted(kinds.kinds), "now": now, "limit": limit}
    ids = list((await session.execute(_DUE, params)).scalars())
    if not ids:
        return []
    await session.execute(_TAKE, {"ids": ids, "owner": owner, "until": now + lease_seconds})
    rows = await session.execute(_SNAPSHOTS, {"ids": ids})
    return [JobSnapshot(*row) for row in rows]


async def settle(
    session: AsyncSession,
    owner: str,
    kinds: JobKinds,
    results: list[tuple[JobSnapshot, JobOutcome]],
    now: float,
) -> None:
    """Record what each job's handler decided, for jobs still leased to ``owner``."""
    for job, outcome in results:
        spec = kinds.kinds.get(job.kind)
        values: dict[str, Any] = {"lease_owner": None, "lease_until": None, "updated_at": now}
        if outcome.again_at is not None:
            values |= {"next_run_at": outcome.again_at, "attempts": 0, "last_error": None}
        elif outcome.fail is not None:
            values |= {"status": FAILED, "last_error": outcome.fail[:4000], "finished_at": now}
        elif outcome.retry is not None:
            attempts = job.attempts + 1
            if spec is None or attempts >= spec.max_attempts:
                reason = f"gave up after {attempts} attempts; last: {outcome.retry}"
                values |= {
                    "status": FAILED,
                    "attempts": attempts,
                    "last_error": reason[:4000],
                    "finished_at": now,
                }
            else:
                after = outcome.retry_after if outcome.retry_after is not None else spec.delay(attempts)
                values |= {
                    "attempts": attempts,
                    "next_run_at": now + after,
                    "last_error": outcome.retry[:4000],
                }
        else:
            values |= {"status": DONE, "finished_at": now, "last_error": None}
        await session.execute(
            update(J)
            .where(J.c.id == job.id, J.c.lease_owner == owner, J.c.status == PENDING)
            .values(**values)
        )


async def next_due(session: AsyncSession, kinds: JobKinds) -> float | None:
    """When the earliest pending job of these kinds can next run."""
    if not kinds:
        return None
    # SQLite's two-argument max() is PostgreSQL's greatest().
    pick = func.greatest if session.bind.dialect.name == "postgresql" else func.max
    ready = pick(J.c.next_run_at, func.coalesce(J.c.lease_until, 0))
    query = select(func.min(ready)).where(J.c.status == PENDING, J.c.kind.in_(sorted(kinds.kinds)))
    value = (await session.execute(query)).scalar()
    return float(value) if value is not None else None


async def has_one_off(session: AsyncSession) -> bool:
    """True while a job other than a recurring sweep is pending (``rightly worker --until-done``)."""
    query = select(func.count()).where(
        J.c.status == PENDING, J.c.key.is_(None) | J.c.key.not_like(RECURRING + "%")
    )
    return bool((await session.execute(query)).scalar())
