"""Authentication (clevertap-api.md §2): headers, several passcodes, delete rights, expiry."""

from __future__ import annotations

import httpx
import pytest

from rightly.domain.clock import FakeClock
from rightly.emulator import Account, EmulatorState

from .support import INVALID, PASSCODE, PID


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-CleverTap-Account-Id": PID},
        {"X-CleverTap-Passcode": PASSCODE},
        {"X-CleverTap-Account-Id": PID, "X-CleverTap-Passcode": "wrong"},
        {"X-CleverTap-Account-Id": "OTHER-1", "X-CleverTap-Passcode": PASSCODE},
    ],
)
async def test_wrong_or_missing_credentials_get_401(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    client.headers.clear()
    for call in (
        client.get("/1/profile.json", params={"identity": "u-1"}, headers=headers),
        client.post("/1/delete/profiles.json", json={"identity": "u-1"}, headers=headers),
        client.post("/1/upload", json={"d": [{"type": "profile", "identity": "u"}]}, headers=headers),
        client.get("/v1/connect", params={"partner": "rightly"}, headers=headers),
    ):
        answer = await call
        assert answer.status_code == 401
        assert answer.json() == INVALID


async def test_connect_checks_credentials(client: httpx.AsyncClient, state: EmulatorState) -> None:
    ok = await client.get("/v1/connect", params={"partner": "rightly"})
    assert (ok.status_code, ok.json()) == (200, {"status": "success"})
    bad = await client.get(
        "/v1/connect", params={"partner": "rightly"}, headers={"X-CleverTap-Passcode": "x"}
    )
    assert bad.status_code == 401
    assert state.stats.calls[(PID, "connect")] == 2


async def test_any_of_several_passcodes_is_accepted(client: httpx.AsyncClient, account: Account) -> None:
    account.add_passcode("partner-2")
    answer = await client.get("/v1/connect", headers={"X-CleverTap-Passcode": "partner-2"})
    assert answer.status_code == 200


async def test_a_passcode_without_delete_rights_gets_403_on_delete_only(
    client: httpx.AsyncClient, account: Account, state: EmulatorState
) -> None:
    account.add_profile(identity="u-1")
    account.add_passcode("ro-pass", can_delete=False)
    read_only = {"X-CleverTap-Passcode": "ro-pass"}
    lookup = await client.get("/1/profile.json", params={"identity": "u-1"}, headers=read_only)
    assert lookup.json()["record"]["identity"] == "u-1"
    refused = await client.post("/1/delete/profiles.json", json={"identity": "u-1"}, headers=read_only)
    assert refused.status_code == 403
    assert refused.json() == {"status": "fail", "error": "Operation is not allowed", "code": 403}
    assert state.stats.deletions == []
    assert account.find(identity="u-1", include_marked=False) is not None


async def test_an_expired_passcode_gets_401(
    client: httpx.AsyncClient, account: Account, clock: FakeClock
) -> None:
    account.add_passcode("old-pass", expires_at=clock.now() + 60)
    headers = {"X-CleverTap-Passcode": "old-pass"}
    assert (await client.get("/v1/connect", headers=headers)).status_code == 200
    clock.advance(60)
    expired = await client.get("/v1/connect", headers=headers)
    assert expired.status_code == 401
    assert expired.json() == INVALID
