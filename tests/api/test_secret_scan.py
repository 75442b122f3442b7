"""After a scenario that touches every secret Rightly handles (a passcode right and wrong, passwords
right and wrong, API tokens, browser sessions, the privacy center's link tokens) and a subject's
personal data, none of the secrets is
in any log line, API answer, page, table row or file, and the subject's data is in no log line and
no job payload. (A token appears once: in the answer that created it; a session only in its cookie.)"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy import MetaData, select

from rightly.domain.roles import Role
from rightly.faces.auth import SESSION_COOKIE
from tests.api.conftest import CONNECTION, PASSWORD, Api
from tests.conftest import PASSCODE
from tests.web.conftest import hidden_csrf

WRONG_PASSCODE = "pc-wrong-staple-9931"
WRONG_PASSWORD = "not-the-password-41733"
NEW_PASSWORD = "velvet tractor murmurs at noon"
SUBJECT_EMAIL, SUBJECT_ID = "grace.hopper.scan@example.com", "user-scan-5512"
PUBLIC_EMAIL = "ada.public.scan@example.com"


async def _link_tokens(api: Api) -> list[str]:
    """The link tokens in the messages sent so far (read as the person would: from the message)."""
    from rightly.services.messages import body_of
    from rightly.store.privacy_models import Message

    async with api.rt.db.session() as s:
        messages = list((await s.execute(select(Message).order_by(Message.created_at))).scalars())
    return [
        m.group(2)
        for message in messages
        for m in re.finditer(r"/privacy/(verify|results)/([A-Za-z0-9_-]+)", body_of(api.rt, message).text)
    ]


async def test_no_secret_or_subject_data_leaks_anywhere(
    api_any_db: Api, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    api = api_any_db
    caplog.set_level(logging.DEBUG)
    emulator_account = None
    # -- the scenario ------------------------------------------------------------------------
    conn = await api.connect()
    await api.call("PATCH", f"/connections/{conn['id']}", json={"passcode": WRONG_PASSCODE})  # refused
    await api.call("PATCH", f"/connections/{conn['id']}", json={"passcode": PASSCODE, "rate": 2.5})
    await api.call("POST", "/connections", json=CONNECTION | {"name": "bad", "passcode": WRONG_PASSCODE})
    await api.call("POST", f"/connections/{conn['id']}/test")
    made = await api.call(
        "POST", "/users", json={"email": "scan@example.com", "role": "viewer", "password": NEW_PASSWORD}
    )
    assert made.status_code == 201, made.text
    token = (
        await api.call("POST", "/tokens", json={"user": "scan@example.com", "expires_in_days": 30})
    ).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    for body in (
        {"type": "access", "subject": {"email": SUBJECT_EMAIL, "user_id": SUBJECT_ID}},
        {"type": "deletion", "subject": {"email": SUBJECT_EMAIL, "user_id": SUBJECT_ID}},
    ):
        r = await api.call("POST", "/requests", Role.REQUEST_MANAGER, json=body)
        assert r.status_code == 201, r.text
    # The privacy center: a person asks, gets a link by email (the outbox here), follows it.
    asked = await api.client.post(
        "/api/v1/privacy/requests",
        json={"type": "access", "email": PUBLIC_EMAIL, "location": "eu"},
    )
    assert asked.status_code in (200, 201, 202), asked.text
    await api.work()
    link_tokens = await _link_tokens(api)
    assert link_tokens, "the verification message carries a link"
    followed = [await api.client.get(f"/privacy/verify/{link_tokens[0]}")]
    followed.append(await api.client.post("/privacy/verify", data={"token": link_tokens[0]}))
    for _ in range(3):
        await api.work()
        api.rt.clock.advance(1.0)  # type: ignore[attr-defined]
    link_tokens = await _link_tokens(api)  # and the results link, once access is done
    await api.call("GET", "/me", None, headers=headers)
    await api.call("GET", "/requests", None, headers=headers)
    await api.call("POST", "/session", None, json={"email": "scan@example.com", "password": WRONG_PASSWORD})
    signed = await api.call(
        "POST", "/session", None, json={"email": "scan@example.com", "password": NEW_PASSWORD}
    )
    session_secrets = [signed.cookies[SESSION_COOKIE]]
    # A browser: sign in through the form, walk the pages, make a token there too.
    browser = httpx.AsyncClient(transport=api.client._transport, base_url="http://testserver")  # type: ignore[attr-defined]
    pages: list[httpx.Response] = []
    async with browser:
        login = await browser.get("/login")
        await browser.post(
            "/login",
            data={
                "email": "super_admin@example.com",
                "password": WRONG_PASSWORD,
                "csrf": hidden_csrf(login.text),
            },
        )
        done = await browser.post(
            "/login",
            data={
                "email": "super_admin@example.com",
                "password": PASSWORD,
                "csrf": hidden_csrf(login.text),
                "next": "/",
            },
        )
        session_secrets.append(done.cookies[SESSION_COOKIE])
        listing = (await api.call("GET", "/requests")).json()["items"]
        for path in [
            "/",
            "/requests",
            "/connections",
            f"/connections/{conn['id']}",
            "/users",
            "/tokens",
            "/audit",
            *(f"/requests/{r['id']}" for r in listing),
        ]:
            pages.append(await browser.get(path))
        tokens_page = pages[5]
        created = await browser.post(
            "/tokens",
            data={
                "user": "viewer@example.com",
                "name": "web",
                "expires": "30",
                "csrf": hidden_csrf(tokens_page.text),
            },
        )
        web_token = re.search(r'id="new-token"[^>]* value="(rly_[^"]+)"', created.text)
        assert web_token is not None
        pages.append(await browser.get("/tokens"))
        await browser.post("/logout", data={"csrf": hidden_csrf(tokens_page.text)})
    del emulator_account

    # -- the scan ----------------------------------------------------------------------------
    never = [PASSCODE, WRONG_PASSCODE, PASSWORD, WRONG_PASSWORD, NEW_PASSWORD, *link_tokens]
    api_tokens = [*api.tokens.values(), token, web_token.group(1)]
    for response in [r for r in [*api.responses, *pages] if r not in followed]:  # the link's own page aside
        text = (
            response.text
            + "\n"
            + "\n".join(f"{k}: {v}" for k, v in response.headers.items() if k != "set-cookie")
        )
        for secret in never + session_secrets:
            assert secret not in text, (secret[:6], response.request.url)
        for secret in api_tokens:
            assert secret not in text or response.request.url.path in ("/api/v1/tokens",), (
                response.request.url
            )
    assert web_token.group(1) in created.text  # shown once, on the page that made it ...
    assert all(web_token.group(1) not in p.text for p in pages)  # ... and never again

    logged = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    for secret in never + session_secrets + api_tokens + [SUBJECT_EMAIL, SUBJECT_ID, PUBLIC_EMAIL]:
        assert secret not in logged, secret[:6]

    rows: list[str] = []
    jobs: list[str] = []
    async with api.rt.db.engine.connect() as db:
        meta = MetaData()
        await db.run_sync(lambda c: meta.reflect(c))
        assert {"connections", "users", "credentials", "audit_entries", "evidence", "jobs"} <= set(
            meta.tables
        )
        for table in meta.tables.values():
            for row in await db.execute(select(table)):
                dumped = " ".join(str(v) for v in row)
                rows.append(dumped)
                if table.name == "jobs":
                    jobs.append(dumped)
    assert rows
    for secret in never + session_secrets + api_tokens:
        assert not any(secret in row for row in rows), secret[:6]
    for personal in (SUBJECT_EMAIL, SUBJECT_ID, PUBLIC_EMAIL):
        assert not any(personal in job for job in jobs)  # events carry ids, never the subject

    files = [p for p in api.rt.settings.home.rglob("*") if p.is_file()]
    for path in files:
        content = path.read_bytes()
        for secret in never + session_secrets + api_tokens:
            assert secret.encode() not in content, (path.name, secret[:6])


def test_the_servers_access_log_drops_query_strings() -> None:
    import logging as _logging

    from rightly.cli.access_log import WithoutQuery, log_config

    record = _logging.LogRecord(
        "uvicorn.access",
        _logging.INFO,
        "",
        0,
        '%s - "%s %s HTTP/%s" %d',
        ("1.2.3.4:5", "GET", f"/requests?email={SUBJECT_EMAIL}", "1.1", 200),
        None,
    )
    assert WithoutQuery().filter(record)
    assert SUBJECT_EMAIL not in record.getMessage() and "/requests?" in record.getMessage()
    assert log_config()["handlers"]["access"]["filters"] == ["without_query"]
