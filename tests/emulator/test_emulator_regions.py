"""Regions (clevertap-api.md §1): prefix and host routing; the wrong region answers 401."""

from __future__ import annotations

import pytest

from rightly.connectors.clevertap.regions import REGIONS
from rightly.emulator import EmulatorState

from .support import INVALID, PASSCODE, PID, in_process


@pytest.mark.parametrize("region", list(REGIONS))
async def test_every_region_serves_its_accounts_by_path_prefix(state: EmulatorState, region: str) -> None:
    state.add_account(PID, PASSCODE, region).add_profile(identity="u-1")
    async with in_process(state, f"http://127.0.0.1:8765/{region}") as client:
        found = await client.get("/1/profile.json", params={"identity": "u-1"})
    assert found.status_code == 200
    assert found.json()["record"]["identity"] == "u-1"


@pytest.mark.parametrize(
    ("region", "base_url"),
    [
        ("us1", "https://us1.api.clevertap.com"),
        ("eu1", "https://eu1.api.clevertap.com"),
        ("eu1", "https://api.clevertap.com"),
        ("sk1", "https://sk1.api.clevertap.com"),
        ("aps3", "https://aps3.api.clevertap.com:443"),
    ],
)
async def test_routes_by_clevertap_host(state: EmulatorState, region: str, base_url: str) -> None:
    state.add_account(PID, PASSCODE, region).add_profile(identity="u-1")
    async with in_process(state, base_url) as client:
        found = await client.get("/1/profile.json", params={"identity": "u-1"})
    assert found.json()["record"]["identity"] == "u-1"


@pytest.mark.parametrize(
    "base_url", ["https://eu1.api.clevertap.com", "https://api.clevertap.com", "http://localhost/in1"]
)
async def test_an_account_called_in_another_region_gets_401(state: EmulatorState, base_url: str) -> None:
    state.add_account(PID, PASSCODE, "us1").add_profile(identity="u-1")
    async with in_process(state, base_url) as client:
        answer = await client.get("/1/profile.json", params={"identity": "u-1"})
    assert answer.status_code == 401
    assert answer.json() == INVALID


async def test_unknown_region_or_path_is_404(state: EmulatorState) -> None:
    state.add_account(PID, PASSCODE, "us1")
    async with in_process(state, "http://localhost") as client:
        assert (await client.get("/xx9/1/profile.json")).status_code == 404
        assert (await client.get("/1/profile.json")).status_code == 404  # neither prefix nor CT host
        assert (await client.get("/us1/1/nothing.json")).status_code == 404
        assert (await client.post("/us1/1/profile.json")).status_code == 405
        index = await client.get("/")
    assert index.json()["regions"] == {code: f"/{code}" for code in REGIONS}
    assert index.json()["accounts"] == [{"project_id": PID, "region": "us1"}]


def test_an_account_needs_a_known_region(state: EmulatorState) -> None:
    with pytest.raises(ValueError, match="eu1, in1, sg1, us1, aps3, mec1, sk1"):
        state.add_account(PID, PASSCODE, "us2")
