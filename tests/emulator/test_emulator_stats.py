"""What the emulator saw: calls, answers, 429s, peaks and deletions per account and endpoint."""

from __future__ import annotations

import httpx
import pytest

from rightly.domain.clock import FakeClock
from rightly.emulator import Account, EmulatorState

from .support import PID


async def test_calls_and_answers_are_counted_per_account_and_endpoint(
    client: httpx.AsyncClient, account: Account, state: EmulatorState, clock: FakeClock
) -> None:
    account.add_profile(identity="u-1")
    await client.get("/1/profile.json", params={"identity": "u-1"})
    await client.get("/1/profile.json", params={})
    await client.post("/1/delete/profiles.json", json={"identity": "u-1"})
    await client.post("/1/upload", json={"d": [{"identity": "u-2", "type": "profile", "profileData": {}}]})
    await client.get("/v1/connect", headers={"X-CleverTap-Account-Id": "GHOST"})
    await client.get("/v1/connect", headers={"X-CleverTap-Account-Id": ""})
    stats = state.stats
    assert stats.calls == {
        (PID, "profile"): 2,
        (PID, "delete"): 1,
        (PID, "upload"): 1,
        ("GHOST", "connect"): 1,
        ("", "connect"): 1,
    }
    assert stats.responses[(PID, "profile", 200)] == 1
    assert stats.responses[(PID, "profile", 400)] == 1
    assert stats.responses[("GHOST", "connect", 401)] == 1
    assert stats.peak_in_flight[PID] == 1
    assert stats.throttled[(PID, "profile")] == 0
    assert [(d.project_id, d.identity, d.time) for d in stats.deletions] == [(PID, ["u-1"], clock.now())]

    served = (await client.get("http://127.0.0.1:8765/_emulator/stats")).json()
    assert served["calls"][PID] == {"profile": 2, "delete": 1, "upload": 1}
    assert served["responses"][PID]["profile"] == {"200": 1, "400": 1}
    assert served["deletions"] == [
        {"project_id": PID, "time": clock.now(), "identity": ["u-1"], "guid": None, "matched": 1}
    ]
    stats.reset()
    assert stats.calls == {} and stats.deletions == []


def test_accounts_are_looked_up_by_project_id(state: EmulatorState, account: Account) -> None:
    assert state.account(PID) is account
    with pytest.raises(KeyError, match="NOPE"):
        state.account("NOPE")
    with pytest.raises(ValueError, match="already exists"):
        state.add_account(PID, "other", "eu1")
