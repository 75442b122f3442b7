"""A request's tasks: one per live connection, each planned by its connector. Used when a request
is made to run at once, and later when a held one starts (verified, or approved)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rightly.domain.enums import RequestType, TaskStatus
from rightly.engine.dispatch import connection_config
from rightly.services.runtime import Runtime
from rightly.store.models import Connection, Task


async def plan_tasks(
    session: AsyncSession,
    rt: Runtime,
    kind: RequestType,
    email: str | None,
    user_id: str | None,
    now: float,
) -> list[Task]:
    """New tasks (not yet added to the session) for every connection not removed."""
    conns = (
        await session.execute(
            select(Connection).where(Connection.removed_at.is_(None)).order_by(Connection.name)
        )
    ).scalars()
    tasks = []
    for conn in conns:
        config = connection_config(conn, rt.registry, rt.secrets)
        plan = rt.registry.get(conn.vendor).plan(config, kind, email, user_id)
        tasks.append(
            Task(
                connection=conn,
                status=TaskStatus.NOT_STARTED,
                phase=plan.phase,
                priority=int(rt.registry.priority(conn.vendor, plan.phase)),
                next_run_at=now + min(plan.delay, rt.settings.deletion_batch_window),
                state=plan.state,
                created_at=now,
                updated_at=now,
            )
        )
    return tasks
