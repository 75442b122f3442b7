"""The audit entries each action writes, the append-only trail, browser sessions, and a search of
every response, log line and audit entry for the passcode."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from rightly.domain.roles import Role
from rightly.services import users
from tests.api.conftest import CONNECTION, PASSWORD, Api
from tests.conftest import PASSCODE


async def _entries(api: Api, **params: str) -> list[dict]:  # type: ignore[type-arg]
    r = await api.call("GET", "/audit", params={"limit": "200", **params})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def test_each_action_writes_its_entry(api_any_db: Api) -> None:
    api = api_any_db
    conn = await api.connect()
    await api.call("PATCH", f"/connections/{conn['id']}", json={"rate": 2.0})
    await api.call("POST", f"/connections/{conn['id']}/test")
    req = (
        await api.call("POST", "/requests", json={"type": "deletion", "subject": {"user_id": "user-7"}})
    ).json()
    await api.work()
    await api.call("POST", f"/requests/{req['id']}/cancel")
    await api.call("POST", f"/requests/{req['id']}/retry")
    await api.call("POST", "/requests", Role.VIEWER, json={"type": "access", "subject": {"user_id": "u"}})
    user = (await api.call("POST", "/users", json={"email": "new@example.com", "role": "viewer"})).json()
    await api.call("PATCH", f"/users/{user['id']}", json={"role": "request_manager"})
    token = (await api.call("POST", "/tokens", json={"user": "new@example.com"})).json()
    await api.call("DELETE", f"/tokens/{token['id']}")
    await api.call("DELETE", f"/connections/{conn['id']}")

    entries = await _entries(api)
    done = {(e["action"], e["target"], e["outcome"]) for e in entries}
    c, r = f"connection:{conn['id']}", f"request:{req['id']}"
    for expected in [
        ("connection.create", c, "ok"),
        ("connection.update", c, "ok"),
        ("connection.test", c, "ok"),
        ("connection.remove", c, "ok"),
        ("request.submit", r, "ok"),
        ("request.cancel", r, "ok"),
        ("request.retry", r, "ok"),
        ("user.create", "user:new@example.com", "ok"),
        ("user.set_role", "user:new@example.com", "ok"),
        ("token.create", f"token:{token['id']}", "ok"),
        ("token.revoke", f"token:{token['id']}", "ok"),
        ("denied", "POST /api/v1/requests", "denied"),
    ]:
        assert expected in done, expected
    mine = [e for e in entries if e["actor"] == "super_admin@example.com"]
    assert mine and all(e["actor_type"] == "token" and e["detail"]["credential"] for e in mine)
    # the engine's vendor calls, as the system's entries on the request
    calls = [e for e in entries if e["actor_type"] == "system" and e["target"] == r and e["vendor_call"]]
    assert calls and all(
        c["vendor_call"]["method"]
        and c["vendor_call"]["endpoint"]
        and c["vendor_call"]["duration_ms"] is not None
        for c in calls
    )
    assert any(c["vendor_call"]["status_code"] == 200 for c in calls)
    # filters
    by_target = await _entries(api, target=r)
    assert {e["target"] for e in by_target} == {r}
    assert {e["action"] for e in await _entries(api, action="connection")} == {
        "connection.create",
        "connection.update",
        "connection.test",
        "connection.remove",
    }
    assert all(e["actor"] == "cli" for e in await _entries(api, actor="cli"))
    assert await _entries(api, since="2100-01-01T00:00:00Z") == []
    assert len(await _entries(api, until="2000-01-01T00:00:00Z")) == 0
    page = (await api.call("GET", "/audit", params={"limit": "2", "offset": "1"})).json()
    assert len(page["items"]) == 2 and page["total"] == len(entries)


async def test_failures_are_recorded_and_nothing_is_half_written(api: Api) -> None:
    r = await api.call("POST", "/connections", json=CONNECTION | {"passcode": "wrong-passcode"})
    assert r.status_code == 422
    failed = [e for e in await _entries(api) if e["action"] == "connection.create"]
    assert [e["outcome"] for e in failed] == ["failed"] and failed[0]["message"]
    assert (await api.call("GET", "/connections")).json() == []
    await api.call("POST", "/requests/req_nope/cancel")
    assert ("request.cancel", "failed") in {(e["action"], e["outcome"]) for e in await _entries(api)}


async def test_audit_entries_cannot_be_changed(api_any_db: Api) -> None:
    await api_any_db.connect()
    for statement in ("UPDATE audit_entries SET outcome = 'ok'", "DELETE FROM audit_entries"):
        async with api_any_db.rt.db.session() as s:
            with pytest.raises(DBAPIError, match="append-only"):
                await s.execute(text(statement))


async def test_login_logout_and_session_cookie(api_any_db: Api) -> None:
    api = api_any_db
    bad = await api.call(
        "POST", "/session", None, json={"email": "viewer@example.com", "password": "wrong password!"}
    )
    assert bad.status_code == 401 and bad.json()["detail"] and "set-cookie" not in bad.headers
    ok = await api.call("POST", "/session", None, json={"email": "Viewer@Example.com", "password": PASSWORD})
    assert ok.status_code == 200 and ok.json()["role"] == "viewer"
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie  # plain http here
    me = await api.call("GET", "/me", None)  # the client keeps the cookie
    assert me.status_code == 200 and me.json()["via"] == "session"
    assert (await api.call("POST", "/connections", None, json=CONNECTION)).status_code == 403
    assert (await api.call("DELETE", "/session", None)).status_code == 204
    api.client.cookies.clear()
    assert (await api.call("GET", "/me", None)).status_code == 401
    logins = [(e["actor"], e["outcome"]) for e in await _entries(api, action="login")]
    assert ("viewer@example.com", "failed") in logins and ("viewer@example.com", "ok") in logins
    no_password = await api.call(
        "POST", "/session", None, json={"email": "request_manager@example.com", "password": "anything at all"}
    )
    assert no_password.status_code == 401


async def test_https_session_cookie_is_secure(api: Api) -> None:
    async with api.rt.db.session() as s:
        user = await users.get_user(s, "viewer@example.com")
        user.password_hash = users.hash_password(PASSWORD)
        await s.commit()
    r = await api.client.post(
        "https://testserver/api/v1/session", json={"email": "viewer@example.com", "password": PASSWORD}
    )
    assert r.status_code == 200 and "secure" in r.headers["set-cookie"].lower()


async def test_no_response_log_line_or_audit_entry_holds_the_passcode(
    api_any_db: Api, caplog: pytest.LogCaptureFixture
) -> None:
    api = api_any_db
    caplog.set_level(logging.DEBUG)
    conn = await api.connect()
    await api.call("PATCH", f"/connections/{conn['id']}", json={"passcode": PASSCODE, "rate": 2})
    await api.call("PATCH", f"/connections/{conn['id']}", json={"passcode": "wrong-passcode"})
    await api.call("POST", "/connections", json=CONNECTION | {"name": "dup"})
    await api.call("POST", "/connections", json=CONNECTION)  # 409
    await api.call("POST", f"/connections/{conn['id']}/test")
    await api.call("GET", "/connections")
    await api.call("GET", f"/connections/{conn['id']}")
    req = (
        await api.call(
            "POST",
            "/requests",
            json={"type": "access", "subject": {"email": "ada@example.com"}, "verified": True},
        )
    ).json()
    await api.work()
    await api.call("GET", f"/requests/{req['id']}")
    await api.call("GET", "/audit?limit=200")
    await api.call("GET", "/openapi.json", None)
    for role in Role:
        await api.call("GET", "/connections", role)
    await api.call("DELETE", f"/connections/{conn['id']}")
    assert len(api.responses) > 10
    for response in api.responses:
        assert PASSCODE not in response.text, response.request.url
        assert PASSCODE not in json.dumps(dict(response.headers))
        assert "passcode_encrypted" not in response.text
    assert PASSCODE not in caplog.text
    for record in caplog.records:
        assert PASSCODE not in record.getMessage()
    async with api.rt.db.session() as s:
        dumped = [str(tuple(row)) for row in await s.execute(text("SELECT * FROM audit_entries"))]
        dumped += [str(tuple(row)) for row in await s.execute(text("SELECT * FROM evidence"))]
    assert dumped and not any(PASSCODE in row for row in dumped)
