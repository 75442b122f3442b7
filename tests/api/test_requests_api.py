"""Requests over HTTP: submit, idempotency, pagination, results, and bad input."""

from __future__ import annotations

import csv
import io

from sqlalchemy import func, select

from rightly.store.models import Request
from tests.api.conftest import CONNECTION, Api

ACCESS = {"type": "access", "subject": {"email": "ada@example.com", "user_id": "user-42"}, "verified": True}


async def _count(api: Api) -> int:
    async with api.rt.db.session() as s:
        return int((await s.execute(select(func.count()).select_from(Request))).scalar() or 0)


async def test_access_request_end_to_end_with_results(api_any_db: Api) -> None:
    api = api_any_db
    await api.connect()
    r = await api.call("POST", "/requests", json=ACCESS)
    assert r.status_code == 201
    created = r.json()
    assert created["status"] == "received" and created["subject"]["email"] == "ada@example.com"
    await api.work()
    shown = (await api.call("GET", f"/requests/{created['id']}")).json()
    assert shown["status"] == "complete"
    assert shown["integrations"][0]["connection"] == "clevertap-prod"
    results = (await api.call("GET", f"/requests/{created['id']}/results")).json()
    assert results["records"][0]["record"]["identity"] == "user-42"
    r = await api.call("GET", f"/requests/{created['id']}/results?format=csv")
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert rows[0]["connection"] == "clevertap-prod" and rows[0]["email"] == "ada@example.com"


async def test_idempotency_key_returns_the_same_request(api_any_db: Api) -> None:
    api = api_any_db
    await api.connect()
    headers = {"Idempotency-Key": "intake-123"}
    first = await api.call("POST", "/requests", json=ACCESS, headers=headers)
    again = await api.call("POST", "/requests", json=ACCESS, headers=headers)
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert await _count(api) == 1
    other = ACCESS | {"type": "deletion"}
    clash = await api.call("POST", "/requests", json=other, headers=headers)
    assert clash.status_code == 409 and "Idempotency-Key" in clash.json()["detail"]
    assert await _count(api) == 1


async def test_list_filters_and_pagination(api: Api) -> None:
    await api.connect()
    for i in range(7):
        api.rt.clock.advance(1)  # type: ignore[attr-defined]
        kind = "access" if i % 2 else "deletion"
        await api.call(
            "POST",
            "/requests",
            json={"type": kind, "subject": {"email": f"p{i}@example.com"}, "verified": True},
        )
    page = (await api.call("GET", "/requests?limit=3&offset=0")).json()
    assert page["total"] == 7 and len(page["items"]) == 3 and page["limit"] == 3
    seen = [r["id"] for r in page["items"]]
    for offset in (3, 6):
        seen += [
            r["id"] for r in (await api.call("GET", f"/requests?limit=3&offset={offset}")).json()["items"]
        ]
    assert len(seen) == len(set(seen)) == 7
    emails = [r["subject"]["email"] for r in (await api.call("GET", "/requests?limit=50")).json()["items"]]
    assert emails == [f"p{i}@example.com" for i in reversed(range(7))]  # newest first
    assert (await api.call("GET", "/requests?type=access")).json()["total"] == 3
    assert (await api.call("GET", "/requests?email=P2@example.com")).json()["total"] == 1
    assert (await api.call("GET", "/requests?status=complete")).json()["total"] == 0
    assert (await api.call("GET", "/requests?limit=0")).status_code == 422
    assert (await api.call("GET", "/requests?status=bogus")).status_code == 422


async def test_bad_input_is_422_per_field_and_writes_nothing(api: Api) -> None:
    await api.connect()
    cases = [
        ({"type": "access", "subject": {"email": "ada@example.com"}, "extra": 1}, "extra"),
        ({"type": "access", "subject": {"email": "not-an-email"}}, "subject"),
        ({"type": "access", "subject": {}}, "subject"),
        ({"type": "access", "subject": {"email": " ", "user_id": ""}}, "subject"),
        ({"type": "access", "subject": {"user_id": "x" * 257}}, "subject.user_id"),
        ({"type": "purge", "subject": {"email": "ada@example.com"}}, "type"),
        ({"type": "access", "subject": {"email": 42}}, "subject.email"),
        ({"type": "access", "subject": "ada@example.com"}, "subject"),
        ({"type": "access"}, "subject"),
    ]
    for body, field in cases:
        r = await api.call("POST", "/requests", json=body)
        assert r.status_code == 422, (body, r.text)
        errors = r.json()["errors"]
        assert any(e["field"] == field for e in errors), (body, errors)
        assert all(e["message"] for e in errors)
    r = await api.call(
        "POST", "/requests", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 422
    assert await _count(api) == 0


async def test_oversize_bodies_are_413(api: Api) -> None:
    big = {"type": "access", "subject": {"user_id": "x" * 70_000}}
    r = await api.call("POST", "/requests", json=big)
    assert r.status_code == 413 and "KiB" in r.json()["detail"]

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(100):
            yield b"x" * 1024

    r = await api.call("POST", "/requests", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert await _count(api) == 0


async def test_connection_input_is_validated_like_the_cli(api: Api) -> None:
    r = await api.call("POST", "/connections", json=CONNECTION | {"region": "mars"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "region"
    r = await api.call("POST", "/connections", json=CONNECTION | {"passcode": "wrong-passcode"})
    assert r.status_code == 422 and r.json()["checks"]
    r = await api.call("POST", "/connections", json=CONNECTION | {"max_in_flight": "many"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "max_in_flight"
    assert (await api.call("GET", "/connections")).json() == []
    conn = await api.connect()
    r = await api.call("PATCH", f"/connections/{conn['id']}", json={"passcode": "wrong-passcode"})
    assert r.status_code == 422
    r = await api.call(
        "PATCH", f"/connections/{conn['id']}", json={"rate": 1.5, "passcode": CONNECTION["passcode"]}
    )
    assert r.status_code == 200 and r.json()["rate"] == 1.5
    assert (await api.call("POST", f"/connections/{conn['id']}/test")).json()["ok"] is True
    assert (await api.call("GET", "/connections/nope")).status_code == 404
