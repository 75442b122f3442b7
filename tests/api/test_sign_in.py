"""Sign-in: guessing is slowed per client address and per account, without letting anyone lock the
real user out (their browser's device cookie keeps the way in); passwords on the common and
breached list are refused; API tokens can expire; every answer carries the security headers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from rightly.domain.clock import FakeClock
from rightly.domain.roles import Role
from rightly.faces.auth import DEVICE_COOKIE
from rightly.services import users
from rightly.services.users import ACCOUNT, ADDRESS
from rightly.settings import Settings
from tests.api.conftest import PASSWORD, Api, open_api
from tests.web.conftest import hidden_csrf

RIGHT = {"email": "viewer@example.com", "password": PASSWORD}
WRONG = {"email": "viewer@example.com", "password": "not the password at all"}


def client_from(api: Api, address: str) -> httpx.AsyncClient:
    """Another client of the same app, from another address."""
    app: Any = api.client._transport.app  # type: ignore[attr-defined]
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def sign_in(client: httpx.AsyncClient, body: dict[str, str]) -> httpx.Response:
    return await client.post("/api/v1/session", json=body)


@pytest.fixture
async def with_passwords(
    sqlite_settings: Settings, clock: FakeClock, emulator_http: httpx.AsyncClient
) -> AsyncIterator[Api]:
    """The API on SQLite; the super admin and the viewer have passwords."""
    async with open_api(sqlite_settings, clock, emulator_http, passwords=True) as api:
        yield api


async def test_one_address_trying_many_emails_is_slowed(with_passwords: Api) -> None:
    api_any_db = with_passwords
    async with (
        client_from(api_any_db, "203.0.113.7") as attacker,
        client_from(api_any_db, "198.51.100.1") as user,
    ):
        for i in range(ADDRESS.times):
            r = await sign_in(attacker, {"email": f"guess{i}@example.com", "password": "password guess!"})
            assert r.status_code == 401
        r = await sign_in(attacker, RIGHT)  # even a right password: this address is slowed down
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        assert "from this address" in r.json()["detail"]
        assert (await sign_in(user, RIGHT)).status_code == 200  # others are not
        api_any_db.rt.clock.advance(ADDRESS.window)  # type: ignore[attr-defined]
        assert (await sign_in(attacker, RIGHT)).status_code == 200


async def test_guessing_one_account_never_locks_out_its_own_browser(api_any_db: Api) -> None:
    async with client_from(api_any_db, "198.51.100.1") as owner:
        assert (await sign_in(owner, RIGHT)).status_code == 200
        assert owner.cookies.get(DEVICE_COOKIE)  # this browser has signed in before
        await owner.delete("/api/v1/session")
        # Attackers from many addresses guess the account's password.
        for i in range(ACCOUNT.times):
            async with client_from(api_any_db, f"203.0.113.{i + 1}") as attacker:
                assert (await sign_in(attacker, WRONG)).status_code == 401
        async with client_from(api_any_db, "203.0.113.200") as attacker:
            r = await sign_in(attacker, RIGHT)  # a new browser: the account is slowed for it
            assert r.status_code == 429 and "for this email" in r.json()["detail"]
        r = await sign_in(owner, RIGHT)  # the real user's browser is not locked out
        assert r.status_code == 200, r.text
    logins = [
        e["outcome"] for e in (await api_any_db.call("GET", "/audit?action=login&limit=200")).json()["items"]
    ]
    assert "denied" in logins and logins.count("failed") == ACCOUNT.times


async def test_a_forged_or_foreign_device_cookie_opens_nothing(with_passwords: Api) -> None:
    api = with_passwords
    for i in range(ACCOUNT.times):
        async with client_from(api, f"203.0.113.{i + 1}") as attacker:
            await sign_in(attacker, WRONG)
    async with client_from(api, "203.0.113.99") as attacker:
        attacker.cookies.set(DEVICE_COOKIE, "made-up.0000")
        assert (await sign_in(attacker, RIGHT)).status_code == 429
        # A device cookie of another account (the attacker's own) does not open this one.
        await sign_in(attacker, {"email": "super_admin@example.com", "password": PASSWORD})
        assert (await sign_in(attacker, RIGHT)).status_code == 429


async def login_form(browser: httpx.AsyncClient, body: dict[str, str]) -> httpx.Response:
    page = await browser.get("/login")
    return await browser.post("/login", data=body | {"csrf": hidden_csrf(page.text), "next": "/"})


async def test_the_web_sign_in_is_throttled_the_same_way(with_passwords: Api) -> None:
    api = with_passwords
    async with client_from(api, "203.0.113.5") as browser:
        for _ in range(ACCOUNT.times):
            r = await login_form(browser, WRONG)
            assert r.status_code == 401
        r = await login_form(browser, RIGHT)
        assert r.status_code == 429 and "Retry-After" in r.headers and "try again in" in r.text


@pytest.mark.parametrize(
    "password",
    ["password1234", "qwertyuiop123", "Password1234!", "viewerexample", "123456789012", "iloveyou1234"],
)
async def test_common_breached_or_guessable_passwords_are_refused(api: Api, password: str) -> None:
    r = await api.call(
        "POST", "/users", json={"email": "new@example.com", "role": "viewer", "password": password}
    )
    assert r.status_code == 422, r.text
    assert password not in r.text
    assert r.json()["errors"][0]["field"] == "password"


async def test_a_strong_password_is_accepted(api: Api) -> None:
    body = {"email": "new@example.com", "role": "viewer", "password": "velvet tractor murmurs at noon"}
    assert (await api.call("POST", "/users", json=body)).status_code == 201


async def test_api_tokens_can_expire(api: Api) -> None:
    r = await api.call(
        "POST", "/tokens", json={"user": "viewer@example.com", "name": "ci", "expires_in_days": 1}
    )
    assert r.status_code == 201 and r.json()["expires_at"]
    headers = {"Authorization": f"Bearer {r.json()['token']}"}
    assert (await api.call("GET", "/me", None, headers=headers)).status_code == 200
    api.rt.clock.advance(86400 + 1)  # type: ignore[attr-defined]
    r = await api.call("GET", "/me", None, headers=headers)
    assert r.status_code == 401 and "expired" in r.json()["detail"]
    listed = {t["name"]: t for t in (await api.call("GET", "/tokens")).json()}
    assert (
        listed["ci"]["expired"] and not listed["tests"]["expired"] and listed["tests"]["expires_at"] is None
    )
    for days in (0, 3651):
        r = await api.call("POST", "/tokens", json={"user": "viewer@example.com", "expires_in_days": days})
        assert r.status_code == 422


@pytest.mark.parametrize(
    "path",
    [
        "/login",
        "/",
        "/static/rightly.css",
        "/api/v1/healthz",
        "/api/v1/me",
        "/nowhere",
        "/api/v1/requests/%00",
    ],
)
async def test_every_answer_carries_the_security_headers(api: Api, path: str) -> None:
    r = await api.client.get(path)
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] and r.headers["permissions-policy"]


async def test_the_docs_page_allows_only_its_own_inline_script(api: Api) -> None:
    r = await api.client.get("/docs")
    csp = r.headers["content-security-policy"]
    assert "'sha256-" in csp and "unsafe-inline" not in csp and "https://cdn.jsdelivr.net" in csp
    r = await api.client.get("https://testserver/api/v1/healthz")
    assert r.headers["strict-transport-security"].startswith("max-age=")


async def test_users_service_refuses_a_common_password_from_the_cli_too(api: Api) -> None:
    from rightly.services.audit import Actor
    from rightly.services.errors import InvalidInput

    async with api.rt.db.session() as s:
        with pytest.raises(InvalidInput, match="common"):
            await users.add_user(s, api.rt.clock, Actor.cli(), "x@example.com", Role.VIEWER, "password1234")
