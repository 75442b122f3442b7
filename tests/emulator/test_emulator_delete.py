"""POST /1/delete/profiles.json (clevertap-api.md §7): validation, marking, the nightly batch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from rightly.domain.clock import FakeClock
from rightly.emulator import Account, EmulatorState
from rightly.emulator.batch import purge_time

from .support import PASSCODE, PID, in_process

DELETE = "/1/delete/profiles.json"


@pytest.fixture
def profiles(account: Account) -> Account:
    account.add_profile(identity="u-1", email="one@example.com", object_ids=["obj-1a", "obj-1b"])
    account.add_profile(identity="u-2", email="two@example.com", object_ids=["obj-2"])
    account.add_profile(identity="u-3", email="three@example.com")
    return account


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"identity": "u-1", "guid": "obj-2"},
        {"identity": []},
        {"identity": [f"id-{i}" for i in range(101)]},
        {"guid": [f"g-{i}" for i in range(101)]},
        {"identity": [1, 2]},
        {"identity": ""},
        {"other": "u-1"},
        ["u-1"],
    ],
)
async def test_bad_submissions_get_400(
    client: httpx.AsyncClient, state: EmulatorState, payload: object
) -> None:
    answer = await client.post(DELETE, json=payload)
    assert answer.status_code == 400
    assert answer.json()["status"] == "fail"
    assert state.stats.deletions == []


async def test_a_body_that_is_not_json_gets_400(client: httpx.AsyncClient) -> None:
    answer = await client.post(DELETE, content=b"identity=u-1")
    assert answer.status_code == 400


@pytest.mark.usefixtures("profiles")
@pytest.mark.parametrize(
    "payload",
    [
        {"identity": "u-1"},
        {"identity": ["u-1", "no-such-user"]},
        {"identity": [f"id-{i}" for i in range(99)] + ["u-1"]},  # 100 is allowed
        {"guid": "obj-1b"},
        {"guid": ["obj-1a", "unknown-guid"]},
    ],
)
async def test_accepted_submissions_answer_success_and_mark(
    client: httpx.AsyncClient, account: Account, payload: dict[str, object]
) -> None:
    answer = await client.post(DELETE, json=payload)
    assert (answer.status_code, answer.json()) == (200, {"status": "success"})
    marked = account.find(identity="u-1")
    assert marked is not None and marked.marked
    assert account.find(identity="u-2") is not None and not account.find(identity="u-2").marked  # type: ignore[union-attr]


async def test_unknown_ids_still_answer_success(client: httpx.AsyncClient, state: EmulatorState) -> None:
    answer = await client.post(DELETE, json={"guid": ["nothing-here"]})
    assert answer.json() == {"status": "success"}
    assert state.stats.deletions[0].matched == 0


@pytest.mark.usefixtures("profiles")
async def test_submissions_are_recorded_with_values_and_time(
    client: httpx.AsyncClient, state: EmulatorState, clock: FakeClock
) -> None:
    await client.post(DELETE, json={"identity": "u-1"})
    clock.advance(5)
    await client.post(DELETE, json={"guid": ["obj-2", "x"]})
    first, second = state.stats.deletions
    assert (first.project_id, first.time, first.identity, first.guid, first.matched) == (
        PID,
        clock.now() - 5,
        ["u-1"],
        None,
        1,
    )
    assert (second["identity"], second["guid"], second["time"]) == (None, ["obj-2", "x"], clock.now())


@pytest.mark.usefixtures("profiles")
async def test_marked_profile_stays_visible_until_the_nightly_batch(
    client: httpx.AsyncClient, account: Account, clock: FakeClock
) -> None:
    await client.post(DELETE, json={"identity": "u-1"})
    profile = account.find(identity="u-1")
    assert profile is not None and profile.purge_at is not None
    clock.set(profile.purge_at - 1)
    still = await client.get("/1/profile.json", params={"email": "one@example.com"})
    assert still.json()["record"]["identity"] == "u-1"
    assert account.find(identity="u-1", include_marked=False) is None
    assert (account.profile_count(), account.profile_count(include_marked=False)) == (3, 2)
    clock.set(profile.purge_at)
    for params in ({"identity": "u-1"}, {"email": "one@example.com"}, {"objectId": "obj-1b"}):
        gone = await client.get("/1/profile.json", params=params)
        assert gone.json() == {"status": "success", "record": None}
    assert account.profile_count() == 2
    assert account.purged == [profile]


@pytest.mark.usefixtures("profiles")
async def test_deleting_one_guid_removes_the_whole_profile(
    client: httpx.AsyncClient, account: Account, clock: FakeClock
) -> None:
    await client.post(DELETE, json={"guid": "obj-1a"})
    clock.advance(48 * 3600)
    for params in ({"objectId": "obj-1b"}, {"identity": "u-1"}, {"email": "one@example.com"}):
        assert (await client.get("/1/profile.json", params=params)).json()["record"] is None
    assert (await client.get("/1/profile.json", params={"identity": "u-2"})).json()["record"] is not None


async def test_the_batch_runs_between_2_and_4_local_time_within_48_hours() -> None:
    tz = ZoneInfo("Asia/Kolkata")
    start = datetime(2026, 3, 1, tzinfo=UTC).timestamp()
    for minute in range(0, 3 * 24 * 60, 17):
        marked = start + minute * 60
        purge = purge_time(marked, tz, "key", None)
        local = datetime.fromtimestamp(purge, tz)
        assert 2 <= local.hour < 4
        assert marked < purge <= marked + 48 * 3600
        assert purge == purge_time(marked, tz, "key", None)  # stable however often asked


async def test_the_batch_follows_the_accounts_time_zone(clock: FakeClock) -> None:
    state = EmulatorState(clock=clock)
    acct = state.add_account("IN-1", PASSCODE, "in1", timezone="Asia/Kolkata")
    acct.add_profile(identity="u")
    acct.mark_for_deletion(identities=["u"])
    purge_at = acct.profiles[0].purge_at
    assert purge_at is not None
    local = datetime.fromtimestamp(purge_at, ZoneInfo("Asia/Kolkata"))
    assert 2 <= local.hour < 4
    clock.advance(48 * 3600)
    assert state.run_due_deletions() == 1
    assert acct.find(identity="u") is None


async def test_a_fixed_deletion_delay_replaces_the_batch(clock: FakeClock) -> None:
    state = EmulatorState(clock=clock)
    acct = state.add_account(PID, PASSCODE, "us1", deletion_delay=5)
    acct.add_profile(identity="u-1")
    async with in_process(state) as client:
        await client.post(DELETE, json={"identity": ["u-1"]})
        clock.advance(4.9)
        assert (await client.get("/1/profile.json", params={"identity": "u-1"})).json()["record"]
        clock.advance(0.1)
        assert (await client.get("/1/profile.json", params={"identity": "u-1"})).json()["record"] is None


async def test_marking_twice_keeps_the_first_batch(account: Account, clock: FakeClock) -> None:
    account.add_profile(identity="u-1")
    account.mark_for_deletion(identities=["u-1"])
    first = account.profiles[0].purge_at
    clock.advance(timedelta(hours=1).total_seconds())
    account.mark_for_deletion(guids=account.profiles[0].object_ids)
    assert account.profiles[0].purge_at == first
