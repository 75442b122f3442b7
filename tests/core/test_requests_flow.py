"""Access and deletion end to end through services and the engine, against the emulator,
on SQLite and PostgreSQL, with the clock injected (a 48-hour deletion runs in milliseconds)."""

from __future__ import annotations

from sqlalchemy import select

from rightly.domain.clock import FakeClock
from rightly.emulator import EmulatorState
from rightly.services import requests as reqs
from rightly.services.runtime import Runtime
from rightly.store.models import Connection, Evidence
from tests.conftest import PASSCODE, PROJECT
from tests.core.helpers import ACTOR, connect, run_until_done, submit, view

HOUR = 3600.0


async def test_access_finds_the_profile_by_email_and_user_id_once(runtime: Runtime) -> None:
    await connect(runtime)
    rid = await submit(runtime, "access", "ada@example.com", "user-42")
    await run_until_done(runtime)
    v = await view(runtime, rid)
    assert v["status"] == "complete"
    (item,) = v["integrations"]
    assert item["status"] == "complete" and item["detail"] == "1 record found"
    (record,) = item["records"]
    assert record["email"] == "ada@example.com" and record["identity"] == "user-42"
    assert record["profileData"]["Plan"] == "gold"
    assert record["events"]["App Launched"]["count"] == 12
    assert {p["objectId"] for p in record["platformInfo"]} == {"obj-ada-ios", "obj-ada-web"}


async def test_access_for_an_unknown_subject_completes_with_no_records(
    runtime: Runtime, emulator: EmulatorState
) -> None:
    emulator.account(PROJECT).not_found_shape = "fail"  # the other shape of "not found"
    await connect(runtime)
    rid = await submit(runtime, "access", "nobody@example.com", "user-0")
    await run_until_done(runtime)
    (item,) = (await view(runtime, rid))["integrations"]
    assert (item["status"], item["detail"], item["records"]) == ("complete", "no records found", [])


async def test_deletion_stays_processing_until_the_nightly_batch_then_is_verified(
    runtime: Runtime, emulator: EmulatorState, clock: FakeClock
) -> None:
    await connect(runtime)
    start = clock.now()
    rid = await submit(runtime, "deletion", user_id="user-42")
    w = runtime.worker()
    await w.run_until_idle()
    (item,) = (await view(runtime, rid))["integrations"]
    assert item["status"] == "processing" and item["submitted_at"] is not None
    assert emulator.stats.deletions[-1].identity == ["user-42"]
    assert emulator.account(PROJECT).find(identity="user-42") is not None  # only marked so far
    await run_until_done(runtime)
    v = await view(runtime, rid)
    (item,) = v["integrations"]
    assert (v["status"], item["status"], item["detail"]) == ("complete", "complete", "deletion verified")
    assert emulator.account(PROJECT).find(identity="user-42") is None
    assert clock.now() - start <= 48 * HOUR + 7 * HOUR  # verified soon after CleverTap's batch
    async with runtime.db.session() as s:
        evidence = list((await s.execute(select(Evidence).order_by(Evidence.id))).scalars())
    kinds = [e.kind for e in evidence]
    assert kinds[0] == "delete" and kinds[-1] == "note" and "lookup" in kinds
    assert evidence[0].data == {"identity": ["user-42"], "batch_size": 1}
    assert evidence[-1].outcome.startswith("deletion verified")


async def test_batched_deletion_evidence_names_only_each_subjects_own_values(
    runtime: Runtime, emulator: EmulatorState
) -> None:
    await connect(runtime, deletion_behavior="on-submit")
    first = await submit(runtime, "deletion", user_id="user-42")
    await submit(runtime, "deletion", user_id="user-7")
    await run_until_done(runtime)
    assert ["user-42", "user-7"] in [sorted(d.identity or []) for d in emulator.stats.deletions]
    async with runtime.db.session() as s:
        req = await reqs.get_request(s, first)
        rows = await s.execute(select(Evidence).where(Evidence.task_id == req.tasks[0].id))
        (ev,) = rows.scalars()
    assert ev.data == {"identity": ["user-42"], "batch_size": 2}


async def test_on_submit_completes_as_soon_as_clevertap_accepts(
    runtime: Runtime, emulator: EmulatorState
) -> None:
    await connect(runtime, deletion_behavior="on-submit")
    rid = await submit(runtime, "deletion", "grace@example.com", "user-7")
    await run_until_done(runtime)
    (item,) = (await view(runtime, rid))["integrations"]
    assert (item["status"], item["detail"]) == ("complete", "deletion submitted")
    assert emulator.account(PROJECT).find(identity="user-7") is not None  # CleverTap has not purged yet


async def test_deletion_by_email_not_identity_deletes_every_object_id_by_guid(
    runtime: Runtime, emulator: EmulatorState
) -> None:
    await connect(runtime)
    rid = await submit(runtime, "deletion", "ada@example.com")
    await run_until_done(runtime)
    assert (await view(runtime, rid))["status"] == "complete"
    (sent,) = emulator.stats.deletions[-1:]
    assert sorted(sent.guid or []) == ["obj-ada-ios", "obj-ada-web"] and sent.identity is None
    assert all(not (d.identity and d.guid) for d in emulator.stats.deletions)
    assert emulator.account(PROJECT).find(email="ada@example.com") is None


async def test_deletion_by_email_that_is_the_identity_uses_identity(
    runtime: Runtime, emulator: EmulatorState
) -> None:
    emulator.account(PROJECT).add_profile(identity="lin@example.com", email="lin@example.com")
    await connect(runtime, email_is_identity=True)
    rid = await submit(runtime, "deletion", "lin@example.com")
    await run_until_done(runtime)
    assert (await view(runtime, rid))["status"] == "complete"
    assert any(d.identity == ["lin@example.com"] for d in emulator.stats.deletions)


async def test_deletion_of_someone_clevertap_never_saw_completes_with_no_records(runtime: Runtime) -> None:
    await connect(runtime)
    rid = await submit(runtime, "deletion", "ghost@example.com")
    await run_until_done(runtime)
    (item,) = (await view(runtime, rid))["integrations"]
    assert (item["status"], item["detail"]) == ("complete", "no records found")


async def test_revoked_passcode_errors_the_task_and_marks_the_connection_failing(
    runtime: Runtime, emulator: EmulatorState
) -> None:
    await connect(runtime)
    emulator.account(PROJECT).passcodes.clear()  # the passcode was revoked in CleverTap
    rid = await submit(runtime, "access", "ada@example.com")
    await run_until_done(runtime)
    v = await view(runtime, rid)
    (item,) = v["integrations"]
    assert (v["status"], item["status"], item["detail"]) == ("error", "error", "credentials rejected")
    assert "rejected the Project ID or Passcode" in item["error"]
    async with runtime.db.session() as s:
        conn = (await s.execute(select(Connection))).scalar_one()
    assert conn.health == "failing"


async def test_faults_are_retried_and_never_read_as_complete(
    runtime: Runtime, emulator: EmulatorState, clock: FakeClock
) -> None:
    await connect(runtime)
    faults = emulator.account(PROJECT).faults
    faults.error_5xx_rate = 0.1
    faults.malformed_rate = 0.1
    faults.fail200_rate = 0.1
    ids = [await submit(runtime, "access", "ada@example.com", "user-42") for _ in range(5)]
    ids.append(await submit(runtime, "deletion", user_id="user-42"))
    await run_until_done(runtime)
    for rid in ids:
        v = await view(runtime, rid)
        (item,) = v["integrations"]
        assert v["status"] == "complete", item
        if v["type"] == "access":
            assert item["detail"] == "1 record found"
        else:
            assert item["detail"] == "deletion verified"
    assert emulator.account(PROJECT).find(identity="user-42") is None


async def test_a_vendor_that_never_recovers_ends_in_error_not_complete(
    runtime: Runtime, emulator: EmulatorState
) -> None:
    await connect(runtime)
    emulator.account(PROJECT).faults.error_5xx_rate = 1.0
    rid = await submit(runtime, "access", "ada@example.com")
    await run_until_done(runtime)
    (item,) = (await view(runtime, rid))["integrations"]
    assert (item["status"], item["detail"]) == ("error", "CleverTap kept failing")
    assert "HTTP 5" in item["error"] and item["records"] == []


async def test_cancel_stops_work_and_retry_resumes_it(runtime: Runtime, emulator: EmulatorState) -> None:
    await connect(runtime)
    rid = await submit(runtime, "deletion", user_id="user-7")
    async with runtime.db.session() as s:
        req = await reqs.cancel(s, runtime, ACTOR, rid)
    assert req.status == "canceled"
    await run_until_done(runtime)
    assert not [d for d in emulator.stats.deletions if d.identity == ["user-7"]]
    async with runtime.db.session() as s:
        req = await reqs.retry(s, runtime, ACTOR, rid)
    assert req.status == "processing"
    await run_until_done(runtime)
    assert (await view(runtime, rid))["status"] == "complete"
    assert emulator.stats.deletions[-1].identity == ["user-7"]


async def test_the_passcode_is_stored_encrypted(runtime: Runtime) -> None:
    await connect(runtime)
    async with runtime.db.session() as s:
        conn = (await s.execute(select(Connection))).scalar_one()
    assert PASSCODE.encode() not in conn.secret_encrypted
    assert runtime.secrets.decrypt(conn.secret_encrypted) == PASSCODE


async def test_removing_a_connection_cancels_its_unfinished_work(
    runtime: Runtime, emulator: EmulatorState
) -> None:
    from rightly.services import connections as conns

    await connect(runtime)
    rid = await submit(runtime, "deletion", user_id="user-7")
    async with runtime.db.session() as s:
        _, canceled = await conns.remove_connection(s, runtime, ACTOR, "clevertap-prod")
    assert canceled == 1
    v = await view(runtime, rid)
    assert (v["status"], v["integrations"][0]["detail"]) == ("canceled", "connection removed")
    await run_until_done(runtime)
    assert not [d for d in emulator.stats.deletions if d.identity == ["user-7"]]
