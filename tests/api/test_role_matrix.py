"""Every role by every route, over HTTP: allowed calls never get 401/403, refused ones get 403 with a
reason, and nobody unauthenticated gets past 401."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from rightly.api.auth import ROUTE_PERMISSIONS
from rightly.app.web import create_app
from rightly.domain.enums import RequestStatus
from rightly.domain.roles import MATRIX, Permission, Role
from rightly.faces.auth import PUBLIC, SESSION_COOKIE
from rightly.services import tokens, users
from rightly.settings import Settings
from rightly.store.models import Request
from rightly.web.security import LOGIN_CSRF_COOKIE, PAGE_PERMISSIONS, session_csrf
from tests.api.conftest import CONNECTION, Api

PROTECTED = sorted(op for op, perm in ROUTE_PERMISSIONS.items() if perm != PUBLIC)
# How a path parameter is filled, by its name: ids of objects _setup makes; any other name gets an
# id that matches nothing (a 404 is an allowed answer: the matrix is about 401/403).
IDS = {"connection_id": "conn", "request_id": "open", "user_id": "user", "token_id": "token"}


def operations(app: Any) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(operation id, method, path, operation) for every operation in the app's OpenAPI schema."""
    schema = app.openapi()
    found = []
    for path, item in schema["paths"].items():
        for method, op in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                found.append((op["operationId"], method.upper(), path, op))
    return sorted(found)


def example_body(app: Any, op: dict[str, Any]) -> Any:
    """The operation's documented example body, if it has one (else an empty object: a 422 is an
    allowed answer for an allowed role, and refusals come before the body is read)."""
    content = (op.get("requestBody") or {}).get("content", {}).get("application/json")
    if content is None:
        return None
    for named in (content.get("examples") or {}).values():
        return named.get("value")
    schema = content.get("schema", {})
    ref = schema.get("$ref", "")
    component = app.openapi()["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {}) if ref else schema
    return (component.get("examples") or [{}])[0]


FASTAPI_OWN = frozenset({"openapi", "swagger_ui_html", "swagger_ui_redirect", "redoc_html"})


def web_pages(app: Any) -> list[tuple[str, str, str]]:
    """(endpoint name, method, path) of every page and form: the app's routes the schema leaves out
    (FastAPI's own documentation routes and /static aside)."""
    found = []
    for route in iter_route_contexts(app.routes):
        name = getattr(route.endpoint, "__name__", route.name)
        if getattr(route, "include_in_schema", None) is False and route.methods and name not in FASTAPI_OWN:
            found += [(name, method, route.path) for method in sorted(route.methods) if method != "HEAD"]
    return sorted(found)


def _app(api: Api) -> Any:
    return api.client._transport.app  # type: ignore[attr-defined]


def test_every_operation_and_page_has_a_permission(sqlite_settings: Settings) -> None:
    """Fail closed, and noticed: a route missing from its face's permission table is refused to
    everyone at run time, and fails this test; an entry without a route fails it too."""
    app = create_app(sqlite_settings, start_worker=False)
    assert {op for op, *_ in operations(app)} == set(ROUTE_PERMISSIONS)
    assert {name for name, *_ in web_pages(app)} == set(PAGE_PERMISSIONS)


def _fill(path: str, ids: dict[str, str]) -> str:
    for name, key in IDS.items():
        path = path.replace("{" + name + "}", ids[key])
    return re.sub(r"\{[a-z_]+\}", "no-such-id", path)


async def _setup(api: Api) -> dict[str, str]:
    conn = await api.connect()
    r = await api.call(
        "POST",
        "/requests",
        json={"type": "access", "subject": {"email": "ada@example.com"}, "verified": True},
    )
    r_open = await api.call("POST", "/requests", json={"type": "deletion", "subject": {"user_id": "user-7"}})
    await api.work()
    r2 = await api.call("POST", "/users", json={"email": "someone@example.com", "role": "viewer"})
    r3 = await api.call("POST", "/tokens", json={"user": "someone@example.com"})
    return {
        "conn": conn["id"],
        "req": r.json()["id"],
        "open": r_open.json()["id"],
        "user": r2.json()["id"],
        "token": r3.json()["id"],
    }


# The app as a server builds it: its operations and pages are the test cases, so a route added
# later is in the matrix without anyone listing it here.
APP = create_app(Settings(home=Path("/nonexistent")), start_worker=False)


@pytest.mark.parametrize("operation", sorted({op for op, *_ in operations(APP)}))
async def test_api_role_matrix(api: Api, operation: str) -> None:
    """Generated from the OpenAPI schema and ROUTE_PERMISSIONS: for each operation, each of the four
    roles and an anonymous caller (and a made-up token) get exactly what the table says."""
    app = _app(api)
    ids = await _setup(api)
    (_, method, path, op), *_ = [o for o in operations(app) if o[0] == operation]
    url = _fill(path, ids).removeprefix("/api/v1")
    root = not path.startswith("/api/v1")
    body = example_body(app, op)
    kwargs = {"json": body} if body is not None else {}
    needed = ROUTE_PERMISSIONS.get(operation)
    assert needed is not None, f"{operation} has no entry in ROUTE_PERMISSIONS"

    async def call(role: Role | None, headers: dict[str, str] | None = None) -> Any:
        if root:
            return await api.client.request(method, url, headers=(headers or api.auth(role)), **kwargs)
        return await api.call(method, url, role, headers=headers or {}, **kwargs)

    for role in Role:
        r = await call(role)
        assert r.status_code < 500, (role, r.text)
        if needed == PUBLIC:  # (a sign-in may well answer 401: wrong password, not "sign in first")
            assert r.status_code != 403, (role, r.status_code, r.text)
        elif role in MATRIX[Permission(needed)]:
            assert r.status_code not in (401, 403), (role, r.status_code, r.text)
        else:
            assert r.status_code == 403, (role, r.status_code, r.text)
            assert role.value in r.json()["detail"]
    api.client.cookies.clear()  # (a public sign-in above may have left a session cookie)
    anonymous = await call(None)
    forged = await call(None, {"Authorization": "Bearer rly_nope"})
    if needed == PUBLIC:
        assert anonymous.status_code != 403 and anonymous.status_code < 500
        return
    assert anonymous.status_code == 401 and anonymous.json()["detail"]
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert forged.status_code == 401 and "invalid" in forged.json()["detail"]


@pytest.mark.parametrize("page", sorted({name for name, *_ in web_pages(APP)}))
async def test_web_role_matrix(api: Api, page: str) -> None:
    """Generated from the app's pages and PAGE_PERMISSIONS: each role (a signed-in browser with its
    form token) and an anonymous browser get exactly what the table says, for every page and form."""
    app = _app(api)
    ids = await _setup(api)
    needed = PAGE_PERMISSIONS.get(page)
    assert needed is not None, f"{page} has no entry in PAGE_PERMISSIONS"
    for _, method, path in [p for p in web_pages(app) if p[0] == page]:
        url = _fill(path, ids)
        for role in Role:
            async with api.rt.db.session() as s:
                user = await users.get_user(s, f"{role.value}@example.com")
                _, secret = await tokens.start_session(s, api.rt.clock, user)
            browser = httpx.AsyncClient(transport=api.client._transport, base_url="http://testserver")  # type: ignore[attr-defined]
            browser.cookies.set(SESSION_COOKIE, secret)
            browser.cookies.set(LOGIN_CSRF_COOKIE, session_csrf(secret))  # the sign-in form's own
            form = {"csrf": session_csrf(secret)}
            async with browser:
                r = await browser.request(method, url, data=form if method == "POST" else None)
            assert r.status_code < 500, (role, url, r.text[:500])
            if needed == PUBLIC or role in MATRIX[Permission(needed)]:
                assert r.status_code != 403, (role, method, url, r.text[:500])
                assert not r.headers.get("location", "").startswith("/login?next="), (role, method, url)
            else:
                assert r.status_code == 403 and role.value in r.text, (role, method, url, r.status_code)
        async with httpx.AsyncClient(
            transport=api.client._transport, base_url="http://testserver"
        ) as anonymous:  # type: ignore[attr-defined]
            anonymous.cookies.set(LOGIN_CSRF_COOKIE, "x")
            r = await anonymous.request(method, url, data={"csrf": "x"} if method == "POST" else None)
        assert r.status_code < 500
        if needed != PUBLIC:
            assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), (method, url)


async def test_allowed_calls_succeed(api: Api) -> None:
    """The matrix checks who gets through; here a super admin's calls with real bodies really work."""
    ids = await _setup(api)
    running = (
        await api.call("POST", "/requests", json={"type": "deletion", "subject": {"user_id": "user-42"}})
    ).json()["id"]
    review = [await _waiting_for_review(api) for _ in range(2)]
    # a deletion of nobody: finished at once (nothing to delete), so it has a proof
    done = (
        await api.call(
            "POST",
            "/requests",
            json={"type": "deletion", "subject": {"email": "nobody@example.com"}, "verified": True},
        )
    ).json()["id"]
    await api.work()
    hook = (
        await api.call(
            "POST", "/webhooks", json={"url": "https://example.com/h", "events": ["request.failed"]}
        )
    ).json()["id"]
    calls = [
        ("GET", "/me", None, 200),
        ("GET", f"/connections/{ids['conn']}", None, 200),
        ("PATCH", f"/connections/{ids['conn']}", {"rate": 2.0}, 200),
        ("POST", f"/connections/{ids['conn']}/test", None, 200),
        ("POST", "/requests", {"type": "access", "subject": {"user_id": "user-9"}}, 201),
        ("GET", f"/requests/{ids['req']}/results", None, 200),
        ("POST", f"/requests/{ids['open']}/cancel", None, 200),
        ("POST", f"/requests/{ids['open']}/retry", None, 200),
        ("GET", "/audit", None, 200),
        ("POST", "/users", {"email": "new@example.com", "role": "viewer"}, 201),
        ("PATCH", f"/users/{ids['user']}", {"role": "request_manager"}, 200),
        ("POST", "/tokens", {"user": "viewer@example.com", "name": "matrix"}, 201),
        ("DELETE", f"/tokens/{ids['token']}", None, 200),
        ("POST", "/connections", CONNECTION | {"name": "second"}, 201),
        ("DELETE", "/connections/second", None, 200),
        ("POST", f"/requests/{running}/extend", {"reason": "six systems to search"}, 200),
        ("POST", f"/requests/{review[0]}/approve", None, 200),
        ("POST", f"/requests/{review[1]}/deny", {"reason": "not the account holder"}, 200),
        ("GET", f"/requests/{done}/proof", None, 200),
        ("GET", "/audit/verify", None, 200),
        ("POST", "/webhooks", {"url": "https://example.com/a", "events": ["request.completed"]}, 201),
        ("GET", f"/webhooks/{hook}", None, 200),
        ("POST", f"/webhooks/{hook}/test", None, 202),
        ("DELETE", f"/webhooks/{hook}", None, 200),
        ("GET", "/reports/metrics?year=2026", None, 200),
    ]
    for method, path, body, status in calls:
        r = await api.call(method, path, json=body) if body is not None else await api.call(method, path)
        assert r.status_code == status, (method, path, r.text)


async def _waiting_for_review(api: Api) -> str:
    """A request held by the review gate (made directly: the gate's own tests take the public way)."""
    r = await api.call("POST", "/requests", json={"type": "access", "subject": {"email": "ada@example.com"}})
    async with api.rt.db.session() as s:
        req = await s.get(Request, r.json()["id"])
        assert req is not None and req.status == RequestStatus.PENDING_VERIFICATION
        req.status, req.received_at = RequestStatus.PENDING_REVIEW, api.rt.clock.now()
        await s.commit()
    return str(r.json()["id"])


async def test_bad_authorization_headers(api: Api) -> None:
    for header in ("Basic abc", "Bearer", "Bearer  ", "token xyz"):
        r = await api.call("GET", "/me", None, headers={"Authorization": header})
        assert r.status_code == 401, header
        assert r.json()["detail"]


async def test_revoked_token_and_disabled_user_are_refused(api: Api) -> None:
    r = await api.call("POST", "/tokens", json={"user": "viewer@example.com"})
    token = r.json()
    headers = {"Authorization": f"Bearer {token['token']}"}
    assert (await api.call("GET", "/me", None, headers=headers)).status_code == 200
    assert (await api.call("DELETE", f"/tokens/{token['id']}")).json()["revoked_at"]
    r = await api.call("GET", "/me", None, headers=headers)
    assert r.status_code == 401 and "revoked" in r.json()["detail"]

    viewer = (await api.call("GET", "/me", Role.VIEWER)).json()
    r = await api.call("PATCH", f"/users/{viewer['id']}", json={"disabled": True})
    assert r.status_code == 200 and r.json()["disabled"]
    assert (await api.call("GET", "/me", Role.VIEWER)).status_code == 401


async def test_role_change_takes_effect_at_once(api: Api) -> None:
    await api.connect()
    body = {"type": "access", "subject": {"email": "ada@example.com"}, "verified": True}
    assert (await api.call("POST", "/requests", Role.VIEWER, json=body)).status_code == 403
    viewer = (await api.call("GET", "/me", Role.VIEWER)).json()
    await api.call("PATCH", f"/users/{viewer['id']}", json={"role": "request_manager"})
    assert (await api.call("POST", "/requests", Role.VIEWER, json=body)).status_code == 201
