"""The audit trail and the vendor calls are hash chains: ``rightly audit verify`` (services.integrity)
passes on what Rightly wrote, and names the entry someone changed, removed or slipped in, even after
dropping the append-only triggers; two runtimes writing at once on PostgreSQL leave chains that verify."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from rightly.app.runtime import open_runtime
from rightly.services import audit, integrity
from rightly.services.audit import Actor
from rightly.services.runtime import Runtime
from rightly.settings import Settings
from rightly.store.auth_models import AuditEntry
from rightly.store.models import Evidence
from tests.conftest import drop_schema
from tests.core.helpers import connect, run_until_done, submit


async def _activity(rt: Runtime) -> None:
    await connect(rt)
    await submit(rt, "access", "ada@example.com", "user-42")
    await submit(rt, "deletion", "grace@example.com")
    await run_until_done(rt)
    async with rt.db.session() as s:
        for i in range(3):
            audit.record(
                s, Actor.cli(), "user.create", f"user:u{i}@example.com", rt.clock.now(), detail={"i": i}
            )
        await s.commit()


async def _report(rt: Runtime) -> dict[str, integrity.ChainReport]:
    async with rt.db.session() as s:
        return {r.chain: r for r in await integrity.verify(s)}


async def _bypass(rt: Runtime, *statements: str) -> None:
    """Drop the append-only triggers and run ``statements``, as someone with the database's password could."""
    drops = (
        [
            f"DROP TRIGGER IF EXISTS {t}_no_{verb}"
            for t in ("audit_entries", "evidence")
            for verb in ("update", "delete")
        ]
        if rt.db.is_sqlite
        else [
            "DROP TRIGGER IF EXISTS audit_entries_append_only ON audit_entries",
            "DROP TRIGGER IF EXISTS evidence_append_only ON evidence",
        ]
    )
    async with rt.db.engine.begin() as conn:
        for statement in [*drops, *statements]:
            await conn.execute(text(statement))


async def test_the_chains_verify_after_ordinary_work(runtime: Runtime) -> None:
    await _activity(runtime)
    reports = await _report(runtime)
    assert reports["audit"].ok and reports["evidence"].ok, reports
    async with runtime.db.session() as s:
        audits = (await s.execute(select(func.count()).select_from(AuditEntry))).scalar()
        calls = (await s.execute(select(func.count()).select_from(Evidence))).scalar()
    assert reports["audit"].entries == audits and reports["evidence"].entries == calls and calls
    assert reports["audit"].head == {"seq": audits, "hash": reports["audit"].head["hash"]}  # type: ignore[index]


async def test_an_edited_audit_entry_is_named(runtime: Runtime) -> None:
    await _activity(runtime)
    await _bypass(runtime, "UPDATE audit_entries SET outcome = 'denied' WHERE seq = 3")
    report = (await _report(runtime))["audit"]
    assert not report.ok
    (problem,) = report.problems
    assert problem.kind == "changed" and problem.seq == 3
    assert problem.message.startswith("audit entry #3 (a") and "was changed" in problem.message
    assert (await _report(runtime))["evidence"].ok


async def test_an_edited_vendor_call_is_named(runtime: Runtime) -> None:
    await _activity(runtime)
    await _bypass(runtime, "UPDATE evidence SET status_code = 200, outcome = 'accepted' WHERE seq = 2")
    (problem,) = (await _report(runtime))["evidence"].problems
    assert (problem.kind, problem.seq) == ("changed", 2) and problem.entry.startswith("vendor call #2 (e")


async def test_a_removed_entry_is_named_even_at_the_end(runtime: Runtime) -> None:
    await _activity(runtime)
    await _bypass(runtime, "DELETE FROM audit_entries WHERE seq = 4")
    (problem,) = (await _report(runtime))["audit"].problems
    assert (problem.kind, problem.seq) == ("removed", 4)
    assert problem.message.startswith("audit entry #4 was removed: audit entry #5 (a")

    last = (await _report(runtime))["evidence"].entries
    await _bypass(runtime, f"DELETE FROM evidence WHERE seq = {last}")
    (problem,) = (await _report(runtime))["evidence"].problems
    assert (problem.kind, problem.seq) == ("head", last) and "newest entries were removed" in problem.message


async def test_an_entry_slipped_in_is_named(runtime: Runtime) -> None:
    await _activity(runtime)
    await _bypass(
        runtime,
        "INSERT INTO audit_entries (at, actor_type, actor, action, target, outcome) "
        "VALUES (1767225600, 'user', 'mallory@example.com', 'user.create', 'user:m', 'ok')",
    )
    (problem,) = (await _report(runtime))["audit"].problems
    assert problem.kind == "outside" and "written bypassing Rightly" in problem.message
    # and one given a place of its own, with a forged seal, is a changed entry at that place
    await _bypass(runtime, "DELETE FROM audit_entries WHERE seq IS NULL")
    await _bypass(
        runtime,
        "UPDATE audit_entries SET seq = seq + 1000 WHERE seq >= 2",
        "UPDATE audit_entries SET seq = seq - 999 WHERE seq >= 1002",
        "INSERT INTO audit_entries (at, actor_type, actor, action, target, outcome, seq, prev_hash, hash) "
        f"VALUES (1767225600, 'user', 'mallory@example.com', 'user.create', 'user:m', 'ok', 2, '{'0' * 64}', '{'1' * 64}')",
    )
    (problem,) = (await _report(runtime))["audit"].problems
    assert (problem.kind, problem.seq) == ("changed", 2)


@pytest.fixture
def pg_settings(pg_url: str, tmp_path: Path) -> Iterator[Settings]:
    schema = f"rt_{uuid.uuid4().hex[:12]}"
    yield Settings(
        home=tmp_path / "home", database_url=pg_url, database_schema=schema, secret_key="shared-key"
    )
    drop_schema(pg_url, schema)


async def test_two_runtimes_writing_at_once_on_postgres_leave_a_chain_that_verifies(
    pg_settings: Settings,
) -> None:
    """Two runtimes (each its own pool, as two processes have), 40 writers each, all at once."""
    async with open_runtime(pg_settings) as one, open_runtime(pg_settings) as two:

        async def write(rt: Runtime, n: int) -> None:
            async with rt.db.session() as s:
                audit.record(s, Actor.cli(), "user.create", f"user:{n}", rt.clock.now(), detail={"n": n})
                audit.record(s, Actor.cli(), "token.create", f"user:{n}", rt.clock.now())
                await s.commit()

        await asyncio.gather(*(write(rt, i) for i in range(40) for rt in (one, two)))
        reports = await _report(one)
    assert reports["audit"].ok, reports["audit"].problems
    assert reports["audit"].entries == 160


async def test_rows_written_before_the_chain_existed_are_sealed_by_the_first_append(runtime: Runtime) -> None:
    """An instance upgraded to chains: its earlier rows join the chain in the order they were written."""
    async with runtime.db.engine.begin() as conn:
        for n in range(3):
            await conn.execute(
                text(
                    "INSERT INTO audit_entries (at, actor_type, actor, action, target, outcome) "
                    f"VALUES ({1767225600 + n}, 'cli', 'cli:old', 'user.create', 'user:{n}', 'ok')"
                )
            )
    async with runtime.db.session() as s:
        audit.record(s, Actor.cli(), "user.create", "user:new", runtime.clock.now())
        await s.commit()
    report = (await _report(runtime))["audit"]
    assert report.ok and report.entries == 4
    async with runtime.db.session() as s:
        rows = (await s.execute(select(AuditEntry.seq, AuditEntry.target).order_by(AuditEntry.seq))).all()
    assert [tuple(r) for r in rows] == [(1, "user:0"), (2, "user:1"), (3, "user:2"), (4, "user:new")]


async def test_the_triggers_allow_only_a_redaction_and_a_forged_one_is_named(runtime: Runtime) -> None:
    from sqlalchemy.exc import DBAPIError

    await _activity(runtime)
    refused = [
        "UPDATE evidence SET redacted = '{}', status_code = 404 WHERE seq = 1",
        "UPDATE evidence SET redacted = '{}', hash = 'x' WHERE seq = 1",
        "UPDATE evidence SET outcome = 'no profile found' WHERE seq = 1",
        "UPDATE audit_entries SET redacted = '{}', action = 'user.delete' WHERE seq = 1",
    ]
    for statement in refused:
        async with runtime.db.session() as s:
            with pytest.raises(DBAPIError, match="append-only"):
                await s.execute(text(statement))
                await s.commit()
    # shaped like a redaction, so the database lets it through; without the key its seal is wrong
    async with runtime.db.session() as s:
        fake = '{"fields": {"outcome": "0"}, "seal": "0"}'
        await s.execute(
            text(f"UPDATE evidence SET outcome = 'no profile found', redacted = '{fake}' WHERE seq = 1")
        )
        await s.commit()
    (problem,) = (await _report(runtime))["evidence"].problems
    assert (problem.kind, problem.seq) == ("changed", 1)
