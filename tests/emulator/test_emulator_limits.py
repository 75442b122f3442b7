"""Limits (clevertap-api.md §4, DESIGN.md Budget): concurrency per account and API, requests per second."""

from __future__ import annotations

import asyncio

import httpx

from rightly.domain.clock import FakeClock
from rightly.emulator import EmulatorState, Faults

from .support import AUTH, PASSCODE, PID, TOO_MANY, in_process


def slow_state(clock: FakeClock, **account: object) -> EmulatorState:
    """Real 50 ms latency, so concurrent in-process calls overlap."""
    state = EmulatorState(clock=clock)
    acct = state.add_account(PID, PASSCODE, "us1", **account)  # type: ignore[arg-type]
    acct.faults = Faults(latency_ms=(50, 50))
    return state


async def lookups(client: httpx.AsyncClient, n: int) -> list[int]:
    answers = await asyncio.gather(
        *(client.get("/1/profile.json", params={"identity": "u"}) for _ in range(n))
    )
    for answer in answers:
        if answer.status_code == 429:
            assert answer.json() == TOO_MANY
    return sorted(a.status_code for a in answers)


async def test_one_more_than_max_in_flight_gets_429(clock: FakeClock) -> None:
    state = slow_state(clock)
    async with in_process(state) as client:
        assert await lookups(client, 5) == [200, 200, 200, 429, 429]
        assert await lookups(client, 3) == [200, 200, 200]  # the slots come back
    stats = state.stats
    assert stats.calls[(PID, "profile")] == 8
    assert stats.throttled[(PID, "profile")] == 2
    assert stats.peak_in_flight[PID] == 3
    assert stats.peak_in_flight_by_endpoint[(PID, "profile")] == 3
    assert state.limits.in_flight(PID) == 0


async def test_max_in_flight_is_per_account(clock: FakeClock) -> None:
    state = slow_state(clock, max_in_flight=1)
    async with in_process(state) as client:
        assert await lookups(client, 2) == [200, 429]


async def test_limits_are_per_api_and_per_account(clock: FakeClock) -> None:
    state = slow_state(clock)
    other = state.add_account("OTHER-9", "pc-9", "us1")
    other.faults = Faults(latency_ms=(50, 50))
    other_auth = {"X-CleverTap-Account-Id": "OTHER-9", "X-CleverTap-Passcode": "pc-9"}
    async with in_process(state) as client:
        calls = [client.get("/1/profile.json", params={"identity": "u"}) for _ in range(3)]
        calls += [client.get("/v1/connect") for _ in range(3)]
        calls += [client.post("/1/delete/profiles.json", json={"identity": "u"}) for _ in range(3)]
        calls += [
            client.get("/1/profile.json", params={"identity": "u"}, headers=other_auth) for _ in range(3)
        ]
        answers = await asyncio.gather(*calls)
    assert [a.status_code for a in answers] == [200] * 12
    assert state.stats.peak_in_flight[PID] == 9
    assert state.stats.peak_in_flight["OTHER-9"] == 3
    assert state.stats.peak_in_flight_by_endpoint[(PID, "delete")] == 3


async def test_uploads_allow_15_concurrent(clock: FakeClock) -> None:
    state = slow_state(clock)
    async with in_process(state) as client:
        body = {"d": [{"identity": "u", "type": "profile", "profileData": {}}]}
        answers = await asyncio.gather(*(client.post("/1/upload", json=body) for _ in range(16)))
    assert sorted(a.status_code for a in answers) == [200] * 15 + [429]


async def test_rate_caps_requests_in_any_one_second_window(clock: FakeClock, state: EmulatorState) -> None:
    state.add_account(PID, PASSCODE, "us1", rate=2)
    async with in_process(state) as client:

        async def status() -> int:
            return (await client.get("/v1/connect")).status_code

        assert [await status(), await status(), await status()] == [200, 200, 429]
        clock.advance(0.999)
        assert await status() == 429
        clock.advance(0.001)  # the first two leave the window
        assert [await status(), await status()] == [200, 200]
        clock.advance(0.6)
        assert await status() == 429
        clock.advance(0.4)
        assert await status() == 200
        clock.advance(0.5)
        assert (await client.get("/1/profile.json", params={"identity": "u"})).status_code == 200
        assert (await client.post("/1/delete/profiles.json", json={"identity": "u"})).status_code == 429
        upload = {"d": [{"identity": "u", "type": "profile", "profileData": {}}]}
        assert (await client.post("/1/upload", json=upload)).status_code == 200  # uploads are not rated
    assert state.stats.throttled[(PID, "connect")] == 3
    assert state.stats.throttled[(PID, "delete")] == 1


async def test_credentials_are_checked_before_limits(clock: FakeClock) -> None:
    state = slow_state(clock, max_in_flight=1)
    async with in_process(state) as client:
        bad = {**AUTH, "X-CleverTap-Passcode": "wrong"}
        answers = await asyncio.gather(
            client.get("/v1/connect"),
            client.get("/v1/connect", headers=bad),
            client.get("/v1/connect", headers=bad),
        )
    assert [a.status_code for a in answers] == [200, 401, 401]
    assert state.stats.throttled[(PID, "connect")] == 0
