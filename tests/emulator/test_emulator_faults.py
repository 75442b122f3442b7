"""Faults on demand (clevertap-api.md §3): seeded, per account, each with its documented effect."""

from __future__ import annotations

import json
import random

import httpx
import pytest

from rightly.domain.clock import FakeClock
from rightly.emulator import Account, EmulatorState, FaultKind, Faults

from .support import PASSCODE, PID, in_process

DELETE = "/1/delete/profiles.json"


async def test_latency_is_drawn_from_the_range_with_the_injected_sleep(
    client: httpx.AsyncClient, account: Account, sleeps: list[float]
) -> None:
    account.faults.latency_ms = (100, 200)
    for _ in range(20):
        await client.get("/v1/connect")
    assert len(sleeps) == 20
    assert all(0.1 <= s <= 0.2 for s in sleeps)
    assert len(set(sleeps)) > 1


async def test_5xx_answers_without_doing_the_call(
    client: httpx.AsyncClient, account: Account, state: EmulatorState
) -> None:
    account.add_profile(identity="u-1")
    account.faults.error_5xx_rate = 1.0
    answers = [await client.post(DELETE, json={"identity": "u-1"}) for _ in range(10)]
    assert {a.status_code for a in answers} <= {500, 503}
    assert all(a.json()["status"] == "fail" and a.json()["code"] == a.status_code for a in answers)
    assert state.stats.deletions == []
    assert state.stats.faults[(PID, "5xx")] == 10


async def test_fail200_is_http_200_with_status_fail(
    client: httpx.AsyncClient, account: Account, state: EmulatorState
) -> None:
    account.add_profile(identity="u-1")
    account.faults.fail200_rate = 1.0
    answer = await client.get("/1/profile.json", params={"identity": "u-1"})
    assert answer.status_code == 200
    assert answer.json() == {"status": "fail", "error": "Internal Server Error", "code": 500}
    assert (await client.post(DELETE, json={"identity": "u-1"})).json()["status"] == "fail"
    assert state.stats.deletions == []


async def test_malformed_bodies_are_not_json(
    client: httpx.AsyncClient, account: Account, state: EmulatorState
) -> None:
    account.add_profile(identity="u-1")
    account.faults.malformed_rate = 1.0
    for answer in (
        await client.get("/1/profile.json", params={"identity": "u-1"}),
        await client.post(DELETE, json={"identity": "u-1"}),
    ):
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/json"
        with pytest.raises(json.JSONDecodeError):
            answer.json()
    assert len(state.stats.deletions) == 1  # the call ran; its answer came back garbled


async def test_a_drop_in_process_raises_the_transport_error_a_socket_gives(
    client: httpx.AsyncClient, account: Account, state: EmulatorState
) -> None:
    account.add_profile(identity="u-1")
    account.faults.drop_rate = 1.0
    with pytest.raises(httpx.RemoteProtocolError):
        await client.post(DELETE, json={"identity": "u-1"})
    assert len(state.stats.deletions) == 1
    profile = account.find(identity="u-1")
    assert profile is not None and profile.marked


async def test_a_hang_sleeps_hang_seconds_then_answers(
    client: httpx.AsyncClient, account: Account, sleeps: list[float]
) -> None:
    account.faults = Faults(hang_rate=1.0, hang_seconds=45.0)
    answer = await client.get("/v1/connect")
    assert sleeps == [45.0]
    assert answer.status_code == 200


async def test_faults_are_per_account(client: httpx.AsyncClient, state: EmulatorState) -> None:
    state.add_account("OTHER-1", PASSCODE, "us1").faults.error_5xx_rate = 1.0
    assert (await client.get("/v1/connect")).status_code == 200
    other = await client.get("/v1/connect", headers={"X-CleverTap-Account-Id": "OTHER-1"})
    assert other.status_code in (500, 503)


async def test_shares_are_seeded_and_reproducible(clock: FakeClock) -> None:
    async def run(seed: int) -> list[tuple[int, str]]:
        state = EmulatorState(clock=clock, seed=seed)
        state.add_account(PID, PASSCODE, "us1").faults = Faults(error_5xx_rate=0.3, fail200_rate=0.2)
        async with in_process(state) as client:
            answers = [await client.get("/v1/connect") for _ in range(200)]
        return [(a.status_code, a.json()["status"]) for a in answers]

    first, again, other = await run(1), await run(1), await run(2)
    assert first == again
    assert first != other
    assert 40 <= sum(1 for code, _ in first if code >= 500) <= 80  # about 30%
    assert 20 <= first.count((200, "fail")) <= 60  # about 20%


def test_pick_carves_one_draw_in_order() -> None:
    faults = Faults(drop_rate=0.25, hang_rate=0.25, error_5xx_rate=0.25, malformed_rate=0.25)
    rng = random.Random(0)
    kinds = [faults.pick(rng) for _ in range(2000)]
    for kind in (FaultKind.DROP, FaultKind.HANG, FaultKind.ERROR_5XX, FaultKind.MALFORMED):
        assert 400 <= kinds.count(kind) <= 600
    assert kinds.count(None) == 0
    assert Faults().pick(rng) is None


@pytest.mark.parametrize(
    "bad",
    [{"error_5xx_rate": 1.5}, {"drop_rate": -0.1}, {"latency_ms": (10, 5)}, {"hang_seconds": -1}],
)
def test_faults_are_validated(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Faults(**bad)  # type: ignore[arg-type]
