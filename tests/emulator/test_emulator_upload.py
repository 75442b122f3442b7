"""POST /1/upload (clevertap-api.md §3): CleverTap's profile/event format, so data is seeded as an app would."""

from __future__ import annotations

import httpx
import pytest

from rightly.emulator import Account, EmulatorState

from .support import PID


async def upload(client: httpx.AsyncClient, *records: object) -> httpx.Response:
    return await client.post("/1/upload", json={"d": list(records)})


async def test_profiles_and_events_show_in_lookups(client: httpx.AsyncClient) -> None:
    answer = await upload(
        client,
        {"identity": "u-1", "type": "profile", "profileData": {"Email": "Ann@Example.com", "Name": "Ann"}},
        {"identity": "u-1", "type": "event", "evtName": "App Launched", "evtData": {}, "ts": 1700000500},
        {"identity": "u-1", "type": "event", "evtName": "App Launched", "evtData": {}, "ts": 1700000100},
        {
            "identity": "u-1",
            "type": "event",
            "evtName": "Charged",
            "evtData": {"Amount": 3},
            "ts": "$D_1700000900",
        },
    )
    assert answer.json() == {"status": "success", "processed": 4, "unprocessed": []}
    record = (await client.get("/1/profile.json", params={"email": "ann@example.com"})).json()["record"]
    assert record["identity"] == "u-1"
    assert record["email"] == "Ann@Example.com"
    assert record["profileData"] == {"Name": "Ann"}
    assert record["events"] == {
        "App Launched": {"count": 2, "first_seen": 1700000100, "last_seen": 1700000500},
        "Charged": {"count": 1, "first_seen": 1700000900, "last_seen": 1700000900},
    }
    assert len(record["platformInfo"]) == 1


async def test_a_later_upload_updates_the_same_profile(client: httpx.AsyncClient, account: Account) -> None:
    await upload(client, {"identity": "u-1", "type": "profile", "profileData": {"Name": "A", "Plan": "free"}})
    await upload(client, {"identity": "u-1", "type": "profile", "profileData": {"Plan": "gold"}})
    assert account.profile_count() == 1
    profile = account.find(identity="u-1")
    assert profile is not None and profile.profile_data == {"Name": "A", "Plan": "gold"}


async def test_object_ids_attach_to_profiles(client: httpx.AsyncClient, account: Account) -> None:
    await upload(
        client,
        {"objectId": "dev-1", "type": "profile", "profileData": {"Name": "anonymous"}},
        {"identity": "u-1", "objectId": "dev-1", "type": "profile", "profileData": {}},
        {"identity": "u-1", "objectId": "dev-2", "type": "event", "evtName": "Viewed", "ts": 1},
        {"type": "profile", "profileData": {"Identity": "u-2"}},
    )
    profile = account.find(object_id="dev-2")
    assert profile is not None and profile.identity == "u-1"
    assert profile.object_ids == ["dev-1", "dev-2"]
    assert account.find(identity="u-2") is not None
    assert account.profile_count() == 2


async def test_event_without_ts_uses_the_emulators_clock(
    client: httpx.AsyncClient, account: Account, state: EmulatorState
) -> None:
    await upload(client, {"identity": "u-9", "type": "event", "evtName": "Opened"})
    profile = account.find(identity="u-9")
    assert profile is not None
    assert profile.events["Opened"]["first_seen"] == int(state.clock.now())


async def test_bad_records_are_unprocessed_as_in_the_real_capture(client: httpx.AsyncClient) -> None:
    answer = await upload(
        client,
        {"identity": "ok", "type": "profile", "profileData": {}},
        {"type": "profile", "profileData": {"Name": "nobody"}},
        {"identity": "x", "type": "event"},
        {"identity": "x", "type": "bogus"},
    )
    body = answer.json()
    assert (answer.status_code, body["status"], body["processed"]) == (200, "success", 1)
    assert [u["code"] for u in body["unprocessed"]] == [523, 400, 400]
    assert body["unprocessed"][0]["status"] == "fail"
    assert "'identity' or 'fbId' or 'gpId' or 'objectId' is necessary" in body["unprocessed"][0]["error"]
    assert '"Name": "nobody"' in body["unprocessed"][0]["record"]


@pytest.mark.parametrize(
    "payload", [{}, {"d": []}, {"d": "x"}, {"d": [{"identity": "u", "type": "profile"}] * 1001}]
)
async def test_bad_batches_get_400(client: httpx.AsyncClient, payload: object) -> None:
    answer = await client.post("/1/upload", json=payload)
    assert answer.status_code == 400


async def test_1000_records_are_accepted(
    client: httpx.AsyncClient, account: Account, state: EmulatorState
) -> None:
    records = [
        {"identity": f"u-{i}", "type": "profile", "profileData": {"Email": f"{i}@x.io"}} for i in range(1000)
    ]
    answer = await client.post("/1/upload", json={"d": records})
    assert answer.json()["processed"] == 1000
    assert account.profile_count() == 1000
    assert state.stats.calls[(PID, "upload")] == 1
