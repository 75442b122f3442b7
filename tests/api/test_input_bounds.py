"""What no database can hold is refused where it enters, on SQLite and PostgreSQL alike: a NUL in a
path, a query or a body, a lone surrogate, input longer than its column. Each gets a 4xx that says
what was wrong, never a 500, and the audit entry of a refused action is still written."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from rightly.domain.roles import Role
from rightly.services import requests as reqs
from rightly.services.errors import InvalidInput
from rightly.store.auth_models import AuditEntry
from tests.api.conftest import Api
from tests.core.helpers import ACTOR

LONG = "x" * 250


async def _audit(api: Api, action: str) -> list[AuditEntry]:
    async with api.rt.db.session() as s:
        rows = await s.execute(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))
        return list(rows.scalars())


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/connections/%00"),
        ("POST", "/requests/%00/cancel"),
        ("POST", "/requests/%00/retry"),
        ("GET", "/requests/%00"),
        ("GET", "/tokens?user=%00"),
        ("GET", "/requests?email=a%00b"),
        ("GET", "/audit?actor=%00"),
        ("PATCH", "/users/%00"),
        ("DELETE", "/tokens/x%00y"),
    ],
)
async def test_a_nul_in_a_path_or_query_is_refused_with_422(api_any_db: Api, method: str, path: str) -> None:
    kwargs: dict[str, Any] = {"json": {"role": "viewer"}} if method == "PATCH" else {}
    r = await api_any_db.call(method, path, **kwargs)
    assert r.status_code == 422, r.text
    body = r.json()
    assert "NUL" in body["detail"] and body["errors"]


@pytest.mark.parametrize(
    "body",
    [
        '{"type": "access", "subject": {"email": "ada\\u0000@example.com"}}',
        '{"type": "access", "subject": {"user_id": "user-\\u0000"}}',
        '{"type": "access", "subject": {"user_id": "\\ud800"}}',
        '{"type": "access", "subject": {"user_id\\u0000": "x"}}',
        "[" * 5000 + "]" * 5000,
    ],
)
async def test_unstorable_json_is_refused_with_422(api_any_db: Api, body: str) -> None:
    await api_any_db.connect()
    r = await api_any_db.call("POST", "/requests", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["detail"]


async def test_long_ids_and_names_are_bounded_and_their_refusals_audited(api_any_db: Api) -> None:
    api = api_any_db
    await api.connect()
    # A viewer cancelling a 250-character id: refused for the role, and the refusal is audited.
    r = await api.call("POST", f"/requests/{LONG}/cancel", Role.VIEWER)
    assert r.status_code == 403
    (denied,) = await _audit(api, "denied")
    assert denied.target is not None and len(denied.target) <= 200
    # A request manager: the id is longer than any id can be.
    r = await api.call("POST", f"/requests/{LONG}/cancel", Role.REQUEST_MANAGER)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "path.request_id"
    assert (await api.call("GET", f"/connections/{LONG}")).status_code == 422
    r = await api.call(
        "POST", "/connections", json={"name": LONG, "project_id": "P", "passcode": "p", "region": "us1"}
    )
    assert r.status_code == 422
    # A failed sign-in with a 320-character email: 401, and the audit entry is there.
    email = "a" * 64 + "@" + ("b" * 60 + ".") * 4 + "example.com"
    r = await api.call("POST", "/session", None, json={"email": email[:320], "password": "wrong password!"})
    assert r.status_code == 401
    (login,) = await _audit(api, "login")
    assert login.outcome == "failed" and login.target is not None and len(login.target) <= 200
    # An 320-character email as a new user: created, its audit target bounded.
    r = await api.call("POST", "/users", json={"email": email[:320], "role": "viewer"})
    assert r.status_code in (201, 422), r.text  # valid or not, never a 500


async def test_submit_refuses_what_no_database_holds_from_any_face(api_any_db: Api) -> None:
    """The CLI hands the services what the shell gave it: a non-UTF-8 argument arrives as a lone
    surrogate (Python's surrogateescape)."""
    await api_any_db.connect()
    for email, user_id in ((None, "user-\udcff"), ("ada\x00@example.com", None), (None, "tab\there")):
        async with api_any_db.rt.db.session() as s:
            with pytest.raises(InvalidInput):
                await reqs.submit(s, api_any_db.rt, ACTOR, "access", email, user_id)
    (failed, *_) = await _audit(api_any_db, "request.submit")
    assert failed.outcome == "failed"


async def test_web_forms_and_queries_get_a_clear_page(api_any_db: Api) -> None:
    client = api_any_db.client
    r = await client.post("/login", data={"email": "a\x00@example.com", "password": "x", "csrf": "x"})
    assert r.status_code == 422 and "NUL" in r.text and "<html" in r.text
    r = await client.get("/requests?email=%00", headers=api_any_db.auth(Role.VIEWER))
    assert r.status_code == 422 and "NUL" in r.text


async def test_an_oversized_body_is_refused_with_413(api: Api) -> None:
    r = await api.call(
        "POST",
        "/requests",
        content=json.dumps({"x": "y" * 70_000}),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 413 and "KiB" in r.json()["detail"]


async def test_a_subject_whose_lookup_url_is_long_finishes_on_every_database(api_any_db: Api) -> None:
    """Issue 14 (1): a user ID of 60 "ü" or 120 "+" makes a lookup URL longer than any short column;
    the step's evidence is kept whole and the request ends, on PostgreSQL too."""
    api = api_any_db
    await api.connect()
    ids = []
    for user_id in ("ü" * 60, "+" * 120, "ü" * 256):
        body = {
            "type": "deletion",
            "subject": {"email": "ada@example.com", "user_id": user_id},
            "verified": True,
        }
        r = await api.call("POST", "/requests", json=body)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    for _ in range(3):  # resolve, then (after the short hold that gathers deletions) submit
        await api.work()
        api.rt.clock.advance(1.0)  # type: ignore[attr-defined]
    for rid in ids:
        view = (await api.call("GET", f"/requests/{rid}")).json()
        (task,) = view["integrations"]
        assert task["status"] in ("processing", "complete"), task  # submitted, or verified: never stuck
        assert task["error"] is None and task["submitted_at"] is not None


@pytest.mark.parametrize(
    "body",
    [
        {"rate": 1e-300},
        {"rate": 0},
        {"rate": 1e9},
        {"max_in_flight": 0},
        {"max_in_flight": 10**6},
        {"verify_interval": 1e-9},
        {"verify_interval": 1e12},
    ],
)
async def test_nonsense_connection_numbers_are_refused_by_the_api(api: Api, body: dict[str, float]) -> None:
    await api.connect()
    r = await api.call("PATCH", "/connections/clevertap-prod", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["errors"]


async def test_a_vendor_record_no_database_can_hold_is_kept_storable(api_any_db: Api) -> None:
    """Bounded where vendor answers enter too: a profile holding a lone surrogate and a NUL."""
    api = api_any_db
    await api.connect()
    emulator = api.rt.http.client._transport.app.state  # type: ignore[attr-defined]
    emulator.account("TEST-ACC-1").add_profile(
        identity="odd-1", profile_data={"Name": "a\ud800b", "x\x00": "y\x00"}
    )
    r = await api.call("POST", "/requests", json={"type": "access", "subject": {"user_id": "odd-1"}})
    await api.work()
    shown = await api.call("GET", f"/requests/{r.json()['id']}")
    assert shown.status_code == 200
    (task,) = shown.json()["integrations"]
    assert task["detail"] == "1 record found"
    assert task["records"][0]["profileData"]["Name"] == "a\ufffdb"
