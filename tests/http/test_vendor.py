"""The vendor client over a real socket to the emulator: CleverTap's answers, the two errors for a
dead host and a hung one, and never the passcode in what they show. (Transport details, TLS and
proxies: test_vendor_transport.py.)"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from rightly.connectors.clevertap.api import Account, delete_request, lookup_request
from rightly.connectors.clevertap.errors import Action, classify_exception, classify_response
from rightly.emulator import EmulatorState, Faults, create_emulator_app
from rightly.emulator.server import serving
from rightly.http.vendor import HttpxVendor, VendorHTTP, VendorTimeout, VendorUnreachable

PASSCODE = "vendor-s3cret-passcode"


@pytest.fixture
async def vendor() -> AsyncIterator[VendorHTTP]:
    client = HttpxVendor.default()
    yield client
    await client.aclose()


@pytest.fixture
def state() -> EmulatorState:
    state = EmulatorState(seed=3)  # real clock, real sleep
    acct = state.add_account("V-1", PASSCODE, "us1")
    acct.add_profile(identity="u-1", email="ann+tag@example.com", object_ids=["g-1"])
    return state


def account(root: str) -> Account:
    return Account("V-1", PASSCODE, "us1", f"{root}/us1")


async def test_a_lookup_and_a_deletion_get_clevertaps_answers(
    vendor: VendorHTTP, state: EmulatorState
) -> None:
    async with serving(create_emulator_app(state)) as root:
        # A '+' and an '@' in the email must reach CleverTap intact.
        found = await vendor.send(lookup_request(account(root), "email", "ann+tag@example.com"), 5)
        missing = await vendor.send(lookup_request(account(root), "email", "nobody@example.com"), 5)
        deleted = await vendor.send(delete_request(account(root), "identity", ["u-1"]), 5)
    assert found.status_code == 200 and found.json()["record"]["identity"] == "u-1"
    assert classify_response(found, "lookup").action is Action.OK
    assert classify_response(missing, "lookup").action is Action.NOT_FOUND
    assert classify_response(deleted, "delete").action is Action.OK
    assert found.headers["content-type"].startswith("application/json")
    assert state.stats.deletions[0]["identity"] == ["u-1"]


async def test_a_wrong_passcode_is_answered_401(vendor: VendorHTTP, state: EmulatorState) -> None:
    async with serving(create_emulator_app(state)) as root:
        wrong = Account("V-1", "not-the-passcode", "us1", f"{root}/us1")
        answer = await vendor.send(lookup_request(wrong, "identity", "u-1"), 5)
    assert classify_response(answer, "lookup").action is Action.REJECT_CREDENTIALS


async def test_a_closed_port_is_unreachable_and_named_by_host_only(vendor: VendorHTTP) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again once the block ends
    with pytest.raises(VendorUnreachable) as caught:
        await vendor.send(lookup_request(account(f"http://127.0.0.1:{port}"), "identity", "u-1"), 5)
    verdict = classify_exception(caught.value)
    assert verdict.action is Action.RETRY and "127.0.0.1" in verdict.reason
    assert PASSCODE not in str(caught.value) and PASSCODE not in verdict.reason


async def test_a_hung_vendor_times_out(vendor: VendorHTTP, state: EmulatorState) -> None:
    state.account("V-1").faults = Faults(hang_rate=1.0, hang_seconds=2.0)
    async with serving(create_emulator_app(state)) as root:
        started = asyncio.get_running_loop().time()
        with pytest.raises(VendorTimeout) as caught:
            await vendor.send(lookup_request(account(root), "identity", "u-1"), 0.2)
        waited = asyncio.get_running_loop().time() - started
    assert waited < 1.5
    assert classify_exception(caught.value).action is Action.RETRY
    assert "timeout" in classify_exception(caught.value).reason


async def test_a_dropped_answer_is_unreachable_not_a_verdict(
    vendor: VendorHTTP, state: EmulatorState
) -> None:
    state.account("V-1").faults.drop_rate = 1.0
    async with serving(create_emulator_app(state)) as root:
        with pytest.raises(VendorUnreachable):
            await vendor.send(delete_request(account(root), "identity", ["u-1"]), 5)


def test_a_request_never_shows_its_passcode() -> None:
    request = lookup_request(account("https://us1.api.clevertap.com"), "email", "a b@example.com")
    assert PASSCODE not in repr(request) and PASSCODE not in request.endpoint
    assert request.endpoint == "GET /us1/1/profile.json?email=a+b%40example.com"
    assert request.host == "us1.api.clevertap.com"
