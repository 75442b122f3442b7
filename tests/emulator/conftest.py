"""Fixtures for the emulator's own tests: a fake clock, a state, one us1 account, an in-process client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from rightly.domain.clock import FakeClock
from rightly.emulator import Account, EmulatorState

from .support import PASSCODE, PID, in_process


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sleeps() -> list[float]:
    """Every simulated network sleep the state asked for, in seconds."""
    return []


@pytest.fixture
def state(clock: FakeClock, sleeps: list[float]) -> EmulatorState:
    async def recording_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        await asyncio.sleep(0)

    return EmulatorState(clock=clock, seed=7, sleep=recording_sleep)


@pytest.fixture
def account(state: EmulatorState) -> Account:
    return state.add_account(PID, PASSCODE, "us1")


@pytest.fixture
async def client(state: EmulatorState, account: Account) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process(state) as c:
        yield c
