"""Evidence and the audit trail are append-only, enforced by the database itself (SQLite and
PostgreSQL): whoever connects to it can add rows but not change, remove or truncate them."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from rightly.services import audit
from rightly.services.audit import Actor
from rightly.services.runtime import Runtime
from rightly.store.auth_models import AuditEntry
from rightly.store.models import Evidence
from tests.core.helpers import connect, run_until_done, submit


async def _rows(rt: Runtime) -> list[tuple[object, ...]]:
    async with rt.db.session() as s:
        rows = await s.execute(select(Evidence.id, Evidence.kind, Evidence.outcome).order_by(Evidence.id))
        return [tuple(r) for r in rows]


async def _refused(rt: Runtime, statement: str) -> None:
    async with rt.db.session() as s:
        with pytest.raises(DBAPIError, match="append-only"):
            await s.execute(text(statement))
            await s.commit()


async def test_evidence_cannot_be_changed_or_removed(runtime: Runtime) -> None:
    await connect(runtime)
    await submit(runtime, "access", "ada@example.com", "user-42")
    await run_until_done(runtime)
    before = await _rows(runtime)
    assert before, "the access request left no evidence"
    statements = ["UPDATE evidence SET outcome = 'nothing happened'", "DELETE FROM evidence"]
    if not runtime.db.is_sqlite:  # SQLite has no TRUNCATE
        statements += ["TRUNCATE evidence", "TRUNCATE tasks CASCADE"]
    for statement in statements:
        await _refused(runtime, statement)
    assert await _rows(runtime) == before


async def test_audit_entries_cannot_be_removed_or_truncated(runtime: Runtime) -> None:
    async with runtime.db.session() as s:
        audit.record(s, Actor.cli(), "user.create", "user:ada@example.com", runtime.clock.now())
        await s.commit()
    statements = ["DELETE FROM audit_entries"]
    if not runtime.db.is_sqlite:
        statements.append("TRUNCATE audit_entries")
    for statement in statements:
        await _refused(runtime, statement)
    async with runtime.db.session() as s:
        assert (await s.execute(select(func.count()).select_from(AuditEntry))).scalar() == 1
