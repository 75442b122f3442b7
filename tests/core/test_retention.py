"""Retention: access results go after 30 days; after the retention period nothing of a subject's
email or identifiers is left in any table, while the proof issued before still verifies, the audit
chains verify, and the metrics count the request as before."""

from __future__ import annotations

import re

from sqlalchemy import select

from rightly.domain import proof as fmt
from rightly.services import audit, integrity, metrics, proofs, retention
from rightly.services.runtime import Runtime
from rightly.store.models import Base, Request, Task
from tests.core.helpers import ACTOR, connect, run_until_done, submit, view

DAY = 86400.0
SECRETS = (
    "ada@example.com",
    "ada%40example.com",
    "ada%40example%2ecom",
    "user-42",
    "obj-ada-ios",
    "obj-ada-web",
)


async def _everything(rt: Runtime) -> str:
    """Every row of every table, as text."""
    out = []
    async with rt.db.session() as s:
        for table in Base.metadata.sorted_tables:
            for row in (await s.execute(select(table))).all():
                out.append(f"{table.name}: {tuple(row)!r}")
    return "\n".join(out)


async def test_access_results_are_deleted_after_30_days(runtime: Runtime) -> None:
    await connect(runtime)
    request_id = await submit(runtime, "access", "ada@example.com", "user-42")
    await run_until_done(runtime)
    assert (await view(runtime, request_id))["integrations"][0]["records"]
    runtime.clock.advance(29 * DAY)  # type: ignore[attr-defined]
    assert (await retention.run(runtime)).results_deleted == 0
    runtime.clock.advance(2 * DAY)  # type: ignore[attr-defined]
    assert (await retention.run(runtime)).results_deleted == 1
    after = await view(runtime, request_id)
    assert after["integrations"][0]["records"] == [] and after["subject"]["email"] == "ada@example.com"
    assert "Ada Lovelace" not in await _everything(runtime)
    async with runtime.db.session() as s:
        req = await s.get(Request, request_id)
        assert req is not None and req.results_deleted_at is not None


async def test_a_request_past_its_period_is_redacted_and_everything_still_checks_out(
    runtime: Runtime,
) -> None:
    await connect(runtime)
    deletion = await submit(runtime, "deletion", "ada@example.com", "user-42")
    access = await submit(runtime, "access", "Ada@Example.com")
    other = await submit(runtime, "access", "grace@example.com")
    await run_until_done(runtime)
    async with runtime.db.session() as s:  # what another feature might have written about the person
        audit.record(
            s,
            ACTOR,
            "message.send",
            f"request:{access}",
            runtime.clock.now(),
            message="sent to ada@example.com",
        )
        await s.commit()
        issued = await proofs.proof_for(s, runtime, ACTOR, deletion)
        before = await metrics.report(s, metrics.Period.year(2026))
    text = await _everything(runtime)
    assert all(
        secret in text for secret in ("ada@example.com", "ada%40example.com", "user-42", "obj-ada-ios")
    )

    runtime.clock.advance(731 * DAY)  # type: ignore[attr-defined]
    swept = await retention.run(runtime)
    assert swept.redacted == 3 and not swept.more

    text = await _everything(runtime)
    for secret in SECRETS:
        assert not re.search(re.escape(secret), text, re.IGNORECASE), secret
    assert "redacted:" in text
    async with runtime.db.session() as s:
        reports = await integrity.verify(s)
        assert all(r.ok for r in reports), [r.problems for r in reports]
        assert await proofs.proof_for(s, runtime, ACTOR, deletion) == issued
        key = bytes.fromhex((await proofs.public_keys(s, runtime))["current"]["public_key"])
        assert fmt.verify(issued, [key], email="ada@example.com").subject == {"email": True}
        assert await metrics.report(s, metrics.Period.year(2026)) == before
        same = {
            r.email
            for r in (await s.execute(select(Request).where(Request.id.in_([deletion, access])))).scalars()
        }
        assert len(same) == 1  # the same person, the same token
        tasks = list((await s.execute(select(Task).where(Task.request_id == other))).scalars())
    assert all(t.records is None for t in tasks)
    # a redacted request is not redacted again, and the evidence triggers still refuse other changes
    assert (await retention.run(runtime)).redacted == 0
