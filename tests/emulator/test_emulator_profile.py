"""GET /1/profile.json (clevertap-api.md §5): parameters, the record, matching, both not-found shapes."""

from __future__ import annotations

import httpx
import pytest

from rightly.emulator import Account, EmulatorState

from .support import PASSCODE, in_process


@pytest.fixture
def ada(account: Account) -> None:
    account.add_profile(
        identity="user-42",
        email="Ada@Example.com",
        profile_data={"Name": "Ada", "Last Score": 308, "Replayed": True},
        events={
            "App Launched": {"count": 10, "first_seen": 1457271567, "last_seen": 1458041215},
            "Charged": {"count": 6, "first_seen": 1457962417, "last_seen": 1458041276},
        },
        object_ids=["-1a063854f83a4c6484285039ecff87cb", "a8ffcbc9-a747-4ee3-a791-c5e58ad03097"],
    )


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"email": "ada@example.com", "identity": "user-42"},
        {"identity": "user-42", "objectId": "x"},
        {"email": ""},
        {"name": "Ada"},
    ],
)
async def test_exactly_one_of_email_identity_objectid_else_400(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    answer = await client.get("/1/profile.json", params=params)
    assert answer.status_code == 400
    assert answer.json()["status"] == "fail"
    assert answer.json()["code"] == 400


@pytest.mark.usefixtures("ada")
async def test_found_profile_carries_the_documented_record(client: httpx.AsyncClient) -> None:
    answer = await client.get("/1/profile.json", params={"identity": "user-42"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "success"
    record = body["record"]
    assert record["identity"] == "user-42"
    assert record["email"] == "Ada@Example.com"
    assert record["profileData"] == {"Name": "Ada", "Last Score": 308, "Replayed": True}
    assert record["events"]["Charged"] == {"count": 6, "first_seen": 1457962417, "last_seen": 1458041276}
    assert [p["objectId"] for p in record["platformInfo"]] == [
        "-1a063854f83a4c6484285039ecff87cb",
        "a8ffcbc9-a747-4ee3-a791-c5e58ad03097",
    ]


@pytest.mark.usefixtures("ada")
@pytest.mark.parametrize(
    ("params", "found"),
    [
        ({"email": "ada@example.com"}, True),  # email: case-insensitive
        ({"email": "ADA@EXAMPLE.COM"}, True),
        ({"email": "ada@example.org"}, False),
        ({"identity": "user-42"}, True),  # identity: exact
        ({"identity": "USER-42"}, False),
        ({"identity": "Ada@Example.com"}, False),  # an email is not an identity here
        ({"objectId": "a8ffcbc9-a747-4ee3-a791-c5e58ad03097"}, True),  # any objectId of the profile
        ({"objectId": "-1a063854f83a4c6484285039ecff87cb"}, True),
        ({"objectId": "nope"}, False),
    ],
)
async def test_matching(client: httpx.AsyncClient, params: dict[str, str], found: bool) -> None:
    record = (await client.get("/1/profile.json", params=params)).json()["record"]
    assert (record is not None) == found


async def test_plus_in_email_is_read_url_decoded(client: httpx.AsyncClient, account: Account) -> None:
    account.add_profile(identity="jack", email="jack+vip@gmail.com")
    answer = await client.get("/1/profile.json", params={"email": "jack+vip@gmail.com"})  # sent as %2B
    assert answer.json()["record"]["identity"] == "jack"


async def test_generated_object_ids_are_unique_and_reproducible(clock: object) -> None:
    def ids() -> list[str]:
        acct = EmulatorState(seed=3).add_account("P", PASSCODE, "us1")
        return [acct.add_profile().object_ids[0] for _ in range(3)]

    assert ids() == ids()
    assert len(set(ids())) == 3


async def test_not_found_null_shape(client: httpx.AsyncClient) -> None:
    answer = await client.get("/1/profile.json", params={"email": "nobody@example.com"})
    assert (answer.status_code, answer.json()) == (200, {"status": "success", "record": None})


async def test_not_found_fail_shape(state: EmulatorState) -> None:
    state.add_account("FAIL-1", PASSCODE, "us1", not_found_shape="fail")
    async with in_process(state) as client:
        client.headers["X-CleverTap-Account-Id"] = "FAIL-1"
        answer = await client.get("/1/profile.json", params={"identity": "nobody"})
    assert answer.status_code == 200
    assert answer.json() == {"status": "fail", "error": "User not found", "code": 404}


def test_not_found_shape_is_checked(state: EmulatorState) -> None:
    with pytest.raises(ValueError, match="not_found_shape"):
        state.add_account("X", PASSCODE, "us1", not_found_shape="404")  # type: ignore[arg-type]
