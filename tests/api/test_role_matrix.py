"""Every role by every route, over HTTP: allowed calls never get 401/403, refused ones get 403 with a
reason, and nobody unauthenticated gets past 401."""

from __future__ import annotations

from typing import Any

import pytest

from rightly.api.auth import ROUTE_PERMISSIONS
from rightly.app.web import create_app
from rightly.domain.enums import RequestStatus
from rightly.domain.roles import MATRIX, Permission, Role
from rightly.faces.auth import PUBLIC
from rightly.settings import Settings
from rightly.store.models import Request
from tests.api.conftest import CONNECTION, Api

# operation id -> (method, path, body); {conn}, {conn_rm}, {req} (complete), {open} and {running} (deletions
# in progress), {review} and {review2} (waiting for review), {user}, {token} and {role} are filled in.
CALLS: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "me": ("GET", "/me", None),
    "list_connections": ("GET", "/connections", None),
    "get_connection": ("GET", "/connections/{conn}", None),
    "create_connection": ("POST", "/connections", CONNECTION | {"name": "ct-{role}"}),
    "update_connection": ("PATCH", "/connections/{conn}", {"rate": 2.0}),
    "test_connection": ("POST", "/connections/{conn}/test", None),
    "remove_connection": ("DELETE", "/connections/{conn_rm}", None),
    "list_requests": ("GET", "/requests?limit=5", None),
    "get_request": ("GET", "/requests/{req}", None),
    "request_results": ("GET", "/requests/{req}/results", None),
    "submit_request": ("POST", "/requests", {"type": "access", "subject": {"user_id": "user-{role}"}}),
    "cancel_request": ("POST", "/requests/{open}/cancel", None),
    "retry_request": ("POST", "/requests/{open}/retry", None),
    "extend_request": ("POST", "/requests/{running}/extend", {"reason": "six systems to search"}),
    "approve_request": ("POST", "/requests/{review}/approve", None),
    "deny_request": ("POST", "/requests/{review2}/deny", {"reason": "not the account holder"}),
    "list_audit": ("GET", "/audit", None),
    "list_users": ("GET", "/users", None),
    "add_user": ("POST", "/users", {"email": "new-{role}@example.com", "role": "viewer"}),
    "update_user": ("PATCH", "/users/{user}", {"role": "request_manager"}),
    "list_tokens": ("GET", "/tokens", None),
    "create_token": ("POST", "/tokens", {"user": "viewer@example.com", "name": "matrix"}),
    "revoke_token": ("DELETE", "/tokens/{token}", None),
    "get_request_proof": ("GET", "/requests/{done}/proof", None),
    "verify_audit": ("GET", "/audit/verify", None),
    "list_webhooks": ("GET", "/webhooks", None),
    "get_webhook": ("GET", "/webhooks/{hook}", None),
    "create_webhook": (
        "POST",
        "/webhooks",
        {"url": "https://example.com/{role}", "events": ["request.completed"]},
    ),
    "delete_webhook": ("DELETE", "/webhooks/{hook_rm}", None),
    "test_webhook": ("POST", "/webhooks/{hook}/test", None),
    "enable_webhook": ("POST", "/webhooks/{hook}/enable", None),
    "report_metrics": ("GET", "/reports/metrics?year=2026", None),
}
PROTECTED = sorted(op for op, perm in ROUTE_PERMISSIONS.items() if perm != PUBLIC)


def test_every_operation_has_a_permission_and_a_matrix_call(sqlite_settings: Settings) -> None:
    """Fail closed: a new route without an entry in ROUTE_PERMISSIONS is refused, and this test
    makes sure it is noticed."""
    schema = create_app(sqlite_settings, start_worker=False).openapi()
    operations = {op["operationId"] for item in schema["paths"].values() for op in item.values()}
    assert operations == set(ROUTE_PERMISSIONS)
    assert set(PROTECTED) == set(CALLS)


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


async def _setup(api: Api) -> dict[str, str]:
    conn = await api.connect()
    conn_rm = await api.connect(name="to-remove")
    r = await api.call(
        "POST",
        "/requests",
        json={"type": "access", "subject": {"email": "ada@example.com"}, "verified": True},
    )
    r_open = await api.call("POST", "/requests", json={"type": "deletion", "subject": {"user_id": "user-7"}})
    running = await api.call(
        "POST", "/requests", json={"type": "deletion", "subject": {"user_id": "user-42"}}
    )
    review = [await _waiting_for_review(api) for _ in range(2)]
    # a deletion of nobody: finished at once (nothing to delete), so it has a proof
    r_done = await api.call(
        "POST",
        "/requests",
        json={"type": "deletion", "subject": {"email": "nobody@example.com"}, "verified": True},
    )
    hooks = [
        await api.call(
            "POST", "/webhooks", json={"url": f"https://example.com/{n}", "events": ["request.failed"]}
        )
        for n in ("hook", "hook-rm")
    ]
    await api.work()
    r2 = await api.call("POST", "/users", json={"email": "someone@example.com", "role": "viewer"})
    r3 = await api.call("POST", "/tokens", json={"user": "someone@example.com"})
    return {
        "conn": conn["id"],
        "conn_rm": conn_rm["id"],
        "req": r.json()["id"],
        "open": r_open.json()["id"],
        "running": running.json()["id"],
        "review": review[0],
        "review2": review[1],
        "user": r2.json()["id"],
        "token": r3.json()["id"],
        "done": r_done.json()["id"],
        "hook": hooks[0].json()["id"],
        "hook_rm": hooks[1].json()["id"],
    }


async def _waiting_for_review(api: Api) -> str:
    """A request held by the review gate (made directly: the gate's own tests take the public way)."""
    r = await api.call("POST", "/requests", json={"type": "access", "subject": {"email": "ada@example.com"}})
    async with api.rt.db.session() as s:
        req = await s.get(Request, r.json()["id"])
        assert req is not None and req.status == RequestStatus.PENDING_VERIFICATION
        req.status, req.received_at = RequestStatus.PENDING_REVIEW, api.rt.clock.now()
        await s.commit()
    return str(r.json()["id"])


@pytest.mark.parametrize("operation", PROTECTED)
async def test_role_matrix(api: Api, operation: str) -> None:
    ids = await _setup(api)
    method, path, body = CALLS[operation]
    permission = Permission(ROUTE_PERMISSIONS[operation])
    for role in Role:
        filled = {**ids, "role": role.value.replace("_", "-")}
        kwargs = {"json": _fill(body, filled)} if body is not None else {}
        r = await api.call(method, _fill(path, filled), role, **kwargs)
        assert r.status_code < 500, (role, r.text)
        if role in MATRIX[permission]:
            assert r.status_code not in (401, 403), (role, r.text)
        else:
            assert r.status_code == 403, (role, r.status_code, r.text)
            assert role.value in r.json()["detail"]
        # nobody without a credential, or with a wrong one, gets through
    r = await api.call(method, _fill(path, {**ids, "role": "anon"}), None)
    assert r.status_code == 401 and r.json()["detail"] and r.headers["www-authenticate"] == "Bearer"
    r = await api.call(
        method, _fill(path, {**ids, "role": "anon"}), None, headers={"Authorization": "Bearer rly_nope"}
    )
    assert r.status_code == 401 and "invalid" in r.json()["detail"]


async def test_allowed_calls_succeed(api: Api) -> None:
    """The matrix above checks refusals; here the first allowed role's calls really work."""
    ids = await _setup(api)
    expected = {
        "POST /connections": 201,
        "POST /requests": 201,
        "POST /users": 201,
        "POST /tokens": 201,
        "POST /webhooks": 201,
        "POST /webhooks/{hook}/test": 202,
    }
    for operation in PROTECTED:
        method, path, body = CALLS[operation]
        filled = {**ids, "role": "admin"}
        kwargs = {"json": _fill(body, filled)} if body is not None else {}
        r = await api.call(method, _fill(path, filled), Role.SUPER_ADMIN, **kwargs)
        assert r.status_code == expected.get(f"{method} {path.split('?')[0]}", 200), (operation, r.text)


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
