"""The privacy center over HTTP with a real SMTP server: the same answer for any email, the abuse
limits, verification links (single use, altered, reminded, closed unverified), the review gate,
extensions and their notice, a deletion through to its completion email, and mail failures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from rightly.domain.clock import FakeClock
from rightly.domain.roles import Role
from rightly.emulator import EmulatorState
from rightly.engine.jobs import JobOutcome, JobSnapshot
from rightly.store.auth_models import AuditEntry
from rightly.store.models import Job, Request
from rightly.store.privacy_models import Link, Message
from tests.api.conftest import Api, open_api
from tests.privacy.conftest import privacy_settings
from tests.privacy.mailbox import Inbox

ADA, NOBODY, GRACE = "ada@example.com", "nobody@example.com", "grace@example.com"


async def ask(api: Api, kind: str, email: str, location: str = "eu", **more: Any) -> httpx.Response:
    return await api.client.post(
        "/api/v1/privacy/requests", json={"type": kind, "email": email, "location": location, **more}
    )


async def the_request(api: Api, email: str) -> Request:
    async with api.rt.db.session() as s:
        rows = await s.execute(
            select(Request).where(Request.email == email).order_by(Request.created_at.desc())
        )
        return rows.scalars().first()  # type: ignore[return-value]


async def confirm(api: Api, token: str) -> httpx.Response:
    return await api.client.post("/privacy/verify", data={"token": token})


async def test_the_answer_is_the_same_for_a_known_and_an_unknown_email(
    papi: Api, inbox: Inbox, emulator: EmulatorState
) -> None:
    known, unknown = await ask(papi, "access", ADA), await ask(papi, "access", NOBODY)
    assert (known.status_code, known.text) == (unknown.status_code, unknown.text) == (202, known.text)
    strip = {"date", "content-length"}
    assert {k: v for k, v in known.headers.items() if k not in strip} == {
        k: v for k, v in unknown.headers.items() if k not in strip
    }
    forms = [
        await papi.client.post("/privacy", data={"type": "deletion", "location": "california", "email": e})
        for e in (ADA, NOBODY)
    ]
    assert forms[0].status_code == forms[1].status_code == 200
    assert forms[0].text == forms[1].text and "Check your email" in forms[0].text
    await papi.work()
    assert sorted(m.subject for m in inbox.to(ADA)) == sorted(m.subject for m in inbox.to(NOBODY))


async def test_a_request_waits_for_its_link_and_an_altered_or_reused_link_is_refused(
    papi: Api, inbox: Inbox, emulator: EmulatorState
) -> None:
    calls = sum(emulator.stats.calls.values())
    await ask(papi, "access", ADA)
    await papi.work()
    [verify] = inbox.to(ADA)
    token = verify.token()
    req = await the_request(papi, ADA)
    assert req.status == "pending_verification" and req.regulation == "gdpr"
    view = (await papi.call("GET", f"/requests/{req.id}")).json()
    assert view["due_at"] is None and view["received_at"] is None and view["integrations"] == []
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    for bad in (altered, "x" * 43, "short"):
        page = await papi.client.get(f"/privacy/verify/{bad}")
        assert page.status_code == 404 and "does not work" in page.text
        assert (await confirm(papi, bad)).status_code == 404
    await papi.work()
    assert sum(emulator.stats.calls.values()) == calls  # an unverified request calls nothing
    assert (await confirm(papi, token)).status_code == 200
    again = await papi.client.get(verify.link())
    assert again.status_code == 409 and "already used" in again.text
    assert (await confirm(papi, token)).status_code == 409
    async with papi.rt.db.session() as s:
        hashes = list((await s.execute(select(Link.token_hash))).scalars())
        entries = [json.dumps([e.message, e.detail]) for e in (await s.execute(select(AuditEntry))).scalars()]
        payloads = [json.dumps(j.payload) for j in (await s.execute(select(Job))).scalars()]
        bodies = [m.body_encrypted for m in (await s.execute(select(Message))).scalars()]
    assert token not in hashes and not any(token in e for e in entries + payloads)
    assert not any(token.encode() in b or ADA.encode() in b for b in bodies)  # encrypted at rest
    assert not any(ADA in e for e in entries + payloads)


async def test_reminder_after_a_day_then_closed_unverified_after_seven(
    papi: Api, inbox: Inbox, clock: FakeClock
) -> None:
    await ask(papi, "deletion", GRACE, location="california")
    await papi.work()
    clock.advance(23 * 3600)
    await papi.work()
    assert len(inbox.to(GRACE)) == 1
    clock.advance(2 * 3600)
    await papi.work()
    first, reminder = inbox.to(GRACE)
    assert reminder.subject == "Reminder: confirm your deletion request"
    assert reminder.token() != first.token()
    assert (await papi.client.get(first.link())).status_code == 200  # both links work
    clock.advance(6 * 86400)
    await papi.work()
    req = await the_request(papi, GRACE)
    assert req.status == "closed_unverified"
    closed = inbox.to(GRACE)[-1]
    assert closed.subject == "Your deletion request was closed"
    page = await papi.client.get(reminder.link())
    assert page.status_code == 410 and "closed" in page.text
    assert (await confirm(papi, reminder.token())).status_code == 410
    assert len(inbox.to(GRACE)) == 3


async def test_abuse_limits_per_address_per_email_and_the_hidden_field(
    tmp_path: Path, clock: FakeClock, emulator_http: httpx.AsyncClient, inbox: Inbox
) -> None:
    settings = privacy_settings(
        tmp_path / "home", inbox, privacy_per_address=3, privacy_per_email=1, privacy_window=3600.0
    )
    async with open_api(settings, clock, emulator_http) as api:
        await api.connect()
        robot = await ask(api, "access", "robot@example.com", website="http://spam.example")
        first = await ask(api, "access", ADA)
        assert robot.text == first.text and robot.status_code == 202
        again = await ask(api, "access", ADA)  # over the per-email limit: same answer, no mail
        assert (again.status_code, again.text) == (202, first.text)
        over = await ask(api, "access", NOBODY)
        assert over.status_code == 429 and over.headers["retry-after"] == "3600"
        assert "Too many requests" in over.json()["detail"]
        await api.work()
        assert [m.subject for m in inbox.to(ADA)] == ["Confirm your access request"]
        assert inbox.to("robot@example.com") == [] and inbox.to(NOBODY) == []
        async with api.rt.db.session() as s:
            emails = list((await s.execute(select(Request.email))).scalars())
        assert emails == [ADA]
        clock.advance(3601)
        assert (await ask(api, "access", NOBODY)).status_code == 202
        page = await api.client.post(
            "/privacy", data={"type": "access", "location": "eu", "email": "x@example.com"}
        )
        assert page.status_code == 200
        for _ in range(2):
            await api.client.post("/privacy", data={"type": "access", "location": "eu", "email": "bad"})
        page = await api.client.post(
            "/privacy", data={"type": "access", "location": "eu", "email": "y@example.com"}
        )
        assert page.status_code == 429 and "Too many requests" in page.text


async def test_bad_input_is_named_field_by_field(papi: Api) -> None:
    page = await papi.client.post("/privacy", data={"type": "", "location": "mars", "email": "not-an-email"})
    assert page.status_code == 422
    assert "Choose access or deletion" in page.text and "Choose where you live" in page.text
    assert "not a valid email" in page.text
    r = await ask(papi, "access", "ada@example.com\x00")
    assert r.status_code == 422


async def test_review_gate_approve_runs_deny_tells_the_reason(
    tmp_path: Path, clock: FakeClock, emulator_http: httpx.AsyncClient, inbox: Inbox, emulator: EmulatorState
) -> None:
    async with open_api(
        privacy_settings(tmp_path / "home", inbox, review_requests=True), clock, emulator_http
    ) as api:
        await api.connect()
        calls = sum(emulator.stats.calls.values())
        for email in (ADA, GRACE):
            await ask(api, "access", email)
        await api.work()
        for email in (ADA, GRACE):
            assert (await confirm(api, inbox.to(email)[0].token())).status_code == 200
        await api.work()
        ada, grace = await the_request(api, ADA), await the_request(api, GRACE)
        assert ada.status == grace.status == "pending_review"
        assert sum(emulator.stats.calls.values()) == calls  # waiting for review runs nothing
        assert inbox.to(ADA)[-1].subject == "We received your access request"  # the clock runs
        r = await api.call(
            "POST",
            f"/requests/{grace.id}/deny",
            Role.REQUEST_MANAGER,
            json={"reason": "We could not match this email to an account holder."},
        )
        assert r.status_code == 200 and r.json()["status"] == "denied"
        assert (await api.call("POST", f"/requests/{grace.id}/approve")).status_code == 409
        r = await api.call("POST", f"/requests/{ada.id}/approve", Role.REQUEST_MANAGER)
        assert r.status_code == 200 and r.json()["decided_by"] == "request_manager@example.com"
        assert (
            await api.call("POST", f"/requests/{ada.id}/deny", json={"reason": "late"})
        ).status_code == 409
        await api.work()
        assert (await the_request(api, ADA)).status == "complete"
        denied = inbox.to(GRACE)[-1]
        assert denied.subject == "We could not carry out your access request"
        assert "We could not match this email to an account holder." in denied.text
        assert inbox.to(ADA)[-1].subject == "Your data is ready to download"


async def test_staff_requests_are_verified_by_their_maker_or_by_the_same_email(
    papi: Api, inbox: Inbox
) -> None:
    r = await papi.call("POST", "/requests", json={"type": "access", "subject": {"email": GRACE}})
    assert r.status_code == 201 and r.json()["status"] == "pending_verification"
    await papi.work()
    [verify] = inbox.to(GRACE)
    assert verify.subject == "Confirm your access request"
    assert (await confirm(papi, verify.token())).status_code == 200
    await papi.work()
    view = (await papi.call("GET", f"/requests/{r.json()['id']}")).json()
    assert view["status"] == "complete" and view["verified_by"] == "email link"
    made = await papi.call(
        "POST", "/requests", json={"type": "access", "subject": {"email": ADA}, "verified": True}
    )
    assert made.json()["status"] == "received" and made.json()["verified_by"] == "super_admin@example.com"
    entries = (await papi.call("GET", "/audit?action=request.submit")).json()["items"]
    assert {e["detail"]["verified"] for e in entries} == {"by the maker", "pending"}
    held = await papi.call("POST", "/requests", json={"type": "deletion", "subject": {"email": NOBODY}})
    canceled = await papi.call("POST", f"/requests/{held.json()['id']}/cancel")
    assert canceled.json()["status"] == "canceled"


async def test_extend_once_with_the_notice(papi: Api, inbox: Inbox, clock: FakeClock) -> None:
    clock.set(1_769_853_600.0)  # 2026-01-31T10:00:00Z
    made = await papi.call(
        "POST",
        "/requests",
        json={"type": "deletion", "subject": {"email": GRACE}, "verified": True, "regulation": "gdpr"},
    )
    req = made.json()
    assert req["due_at"] == "2026-02-28T10:00:00Z"
    r = await papi.call(
        "POST", f"/requests/{req['id']}/extend", json={"reason": "Six systems hold your data."}
    )
    assert r.status_code == 200 and r.json()["due_at"] == "2026-04-30T10:00:00Z"
    again = await papi.call("POST", f"/requests/{req['id']}/extend", json={"reason": "more"})
    assert again.status_code == 409 and "once" in again.json()["detail"]
    blank = await papi.call("POST", f"/requests/{req['id']}/extend", json={"reason": " "})
    assert blank.status_code == 422
    ccpa = await papi.call(
        "POST",
        "/requests",
        json={"type": "access", "subject": {"user_id": "u-1"}, "verified": True, "regulation": "ccpa"},
    )
    assert ccpa.json()["due_at"] == "2026-03-17T10:00:00Z"
    assert (await papi.call("POST", f"/requests/{ccpa.json()['id']}/extend", json={"reason": "x"})).json()[
        "due_at"
    ] == "2026-05-01T10:00:00Z"
    await papi.work()
    extended = next(m for m in inbox.to(GRACE) if m.subject == "Your deletion request needs more time")
    body = " ".join(extended.text.split())
    assert "Six systems hold your data." in body and "30 April 2026" in body and "two further months" in body


async def test_a_public_deletion_ends_with_the_completion_email(
    papi: Api, inbox: Inbox, clock: FakeClock
) -> None:
    await ask(papi, "deletion", ADA, location="california")
    await papi.work()
    assert (await confirm(papi, inbox.to(ADA)[0].token())).status_code == 200
    for _ in range(20):
        await papi.work()
        if (await the_request(papi, ADA)).status == "complete":
            break
        clock.advance(6 * 3600)
    req = await the_request(papi, ADA)
    assert req.status == "complete" and req.regulation == "ccpa"
    await papi.work()
    done = inbox.to(ADA)[-1]
    assert done.subject == "Your data has been deleted"
    assert "CleverTap (clevertap-prod): deleted, confirmed" in done.text


async def test_overdue_is_announced_once_per_deadline(
    tmp_path: Path, clock: FakeClock, emulator_http: httpx.AsyncClient, inbox: Inbox
) -> None:
    seen: list[str] = []

    async def record(job: JobSnapshot) -> JobOutcome:
        seen.append(job.payload["request_id"])
        return JobOutcome.done()

    async with open_api(
        privacy_settings(tmp_path / "home", inbox, review_requests=True), clock, emulator_http
    ) as api:
        api.rt.events.subscribe("request.overdue", "test.overdue")
        api.rt.jobs.add("test.overdue", record)
        await api.connect()
        await api.rt.worker_started()
        await ask(api, "access", ADA)
        await ask(api, "access", NOBODY)  # never verified: no clock, never overdue
        await api.work()
        assert (await confirm(api, inbox.to(ADA)[0].token())).status_code == 200
        req = await the_request(api, ADA)  # waiting for review: the clock runs, nothing else does
        clock.advance(31 * 86400)
        await api.work()
        clock.advance(3600)
        await api.work()
        assert seen == [req.id]
        await api.call("POST", f"/requests/{req.id}/extend", json={"reason": "a review takes time"})
        clock.advance(60 * 86400)
        await api.work()
        assert seen == [req.id, req.id]


@pytest.mark.parametrize("refused", [True, False])
async def test_a_message_that_cannot_be_sent_says_why_without_the_address(
    tmp_path: Path, clock: FakeClock, emulator_http: httpx.AsyncClient, inbox: Inbox, refused: bool
) -> None:
    settings = privacy_settings(tmp_path / "home", inbox)
    if refused:
        inbox.refuse.add(ADA)
    else:
        settings = settings.model_copy(update={"smtp_url": "smtp://127.0.0.1:9"})  # nothing listens
    async with open_api(settings, clock, emulator_http) as api:
        await api.connect()
        await ask(api, "access", ADA)
        await api.work()
        async with api.rt.db.session() as s:
            message = (await s.execute(select(Message))).scalar_one()
            job = (await s.execute(select(Job).where(Job.kind == "mail.send"))).scalar_one()
            entry = (
                await s.execute(select(AuditEntry).where(AuditEntry.action == "message.send"))
            ).scalar_one()
        assert message.attempts == 1 and message.last_error
        assert (
            ADA not in message.last_error
            and ADA not in (job.last_error or "")
            and ADA not in (entry.message or "")
        )
        assert entry.outcome == "failed"
        if refused:
            assert message.status == job.status == "failed" and "<recipient>" in message.last_error
        else:
            assert (
                message.status == "queued"
                and job.status == "pending"
                and "could not reach" in message.last_error
            )


async def test_cors_opens_only_the_public_api_to_the_configured_origins(
    tmp_path: Path, clock: FakeClock, emulator_http: httpx.AsyncClient
) -> None:
    settings = privacy_settings(tmp_path / "home", None, privacy_cors_origins="https://shop.example")
    async with open_api(settings, clock, emulator_http) as api:
        await api.connect()
        preflight = {"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"}
        ok = await api.client.options("/api/v1/privacy/requests", headers=preflight)
        assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "https://shop.example"
        other = await api.client.options(
            "/api/v1/privacy/requests", headers=preflight | {"Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in other.headers
        staff = await api.client.options("/api/v1/requests", headers=preflight)
        assert "access-control-allow-origin" not in staff.headers
        posted = await api.client.post(
            "/api/v1/privacy/requests",
            json={"type": "access", "email": ADA, "location": "eu"},
            headers={"Origin": "https://shop.example"},
        )
        assert (
            posted.status_code == 202
            and posted.headers["access-control-allow-origin"] == "https://shop.example"
        )
