"""The emulator over a real socket (uvicorn on 127.0.0.1): 429 under real concurrency, drops, hangs."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from rightly.emulator import EmulatorState, Faults, create_emulator_app
from rightly.emulator.server import serving

from .support import AUTH, PASSCODE, PID, TOO_MANY


@pytest.fixture
def live_state() -> EmulatorState:
    state = EmulatorState(seed=5)  # real clock, real sleep
    state.add_account(PID, PASSCODE, "us1").add_profile(identity="u-1", email="u1@example.com")
    return state


async def test_429_under_real_concurrency(live_state: EmulatorState) -> None:
    live_state.account(PID).faults = Faults(latency_ms=(300, 300))
    async with (
        serving(create_emulator_app(live_state)) as root,
        httpx.AsyncClient(
            base_url=f"{root}/us1", headers=AUTH, limits=httpx.Limits(max_connections=20)
        ) as client,
    ):
        answers = await asyncio.gather(
            *(client.get("/1/profile.json", params={"identity": "u-1"}) for _ in range(6))
        )
        stats = (await client.get(f"{root}/_emulator/stats")).json()
    codes = sorted(a.status_code for a in answers)
    assert codes == [200, 200, 200, 429, 429, 429]
    assert [a.json() for a in answers if a.status_code == 429] == [TOO_MANY] * 3
    assert all(a.json()["record"]["identity"] == "u-1" for a in answers if a.status_code == 200)
    assert live_state.stats.peak_in_flight[PID] == 3
    assert live_state.stats.throttled[(PID, "profile")] == 3
    assert stats["throttled"] == {PID: {"profile": 3}}
    assert stats["peak_in_flight"] == {PID: 3}


async def test_a_dropped_connection_over_the_socket(live_state: EmulatorState) -> None:
    live_state.account(PID).faults.drop_rate = 1.0
    async with (
        serving(create_emulator_app(live_state)) as root,
        httpx.AsyncClient(base_url=f"{root}/us1", headers=AUTH) as client,
    ):
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("/1/delete/profiles.json", json={"identity": "u-1"})
    assert len(live_state.stats.deletions) == 1  # the deletion ran; only the answer was lost


async def test_a_hang_outlasts_the_clients_timeout(live_state: EmulatorState) -> None:
    live_state.account(PID).faults = Faults(hang_rate=1.0, hang_seconds=0.4)
    async with (
        serving(create_emulator_app(live_state)) as root,
        httpx.AsyncClient(base_url=f"{root}/us1", headers=AUTH, timeout=0.1) as client,
    ):
        with pytest.raises(httpx.ReadTimeout):
            await client.get("/v1/connect")
