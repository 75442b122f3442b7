"""Issue 14 (3): a connections manager can neither send the stored passcode to a host of their
choosing nor read a vendor's error text through Rightly. Calls go to the region's CleverTap host
unless the server allows custom base URLs; changing the host, project or region needs the passcode
again (whatever that setting); and vendor text is summarised, never echoed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from rightly.domain.clock import FakeClock
from rightly.domain.roles import Role
from rightly.emulator import EmulatorState
from rightly.settings import Settings
from tests.api.conftest import CONNECTION, Api, open_api
from tests.conftest import PROJECT


@pytest.fixture
async def permissive(
    sqlite_settings: Settings, clock: FakeClock, emulator_http: httpx.AsyncClient
) -> AsyncIterator[Api]:
    """A server that allows custom base URLs (RIGHTLY_ALLOW_CUSTOM_BASE_URLS=1)."""
    settings = sqlite_settings.model_copy(update={"allow_custom_base_urls": True})
    async with open_api(settings, clock, emulator_http) as api:
        yield api


async def test_a_custom_host_is_refused_unless_the_server_allows_it(api: Api) -> None:
    r = await api.call(
        "POST", "/connections", json=CONNECTION | {"api_base_url": "http://127.0.0.1:18900/us1"}
    )
    assert r.status_code == 422 and "RIGHTLY_ALLOW_CUSTOM_BASE_URLS" in r.text
    conn = await api.connect()
    for url in ("http://127.0.0.1:18900/us1", "http://us1.api.clevertap.com@127.0.0.1:18900/"):
        body = {"api_base_url": url, "passcode": "pc-anything"}
        r = await api.call("PATCH", f"/connections/{conn['id']}", Role.CONNECTIONS_MANAGER, json=body)
        assert r.status_code == 422, r.text


async def test_moving_a_connection_needs_the_passcode_again(permissive: Api, emulator: EmulatorState) -> None:
    api = permissive
    conn = await api.connect()
    calls = sum(emulator.stats.calls.values())
    for change in (
        {"api_base_url": "http://127.0.0.1:18900/us1"},
        {"region": "eu1"},
        {"project_id": "OTHER-1"},
    ):
        r = await api.call("PATCH", f"/connections/{conn['id']}", Role.CONNECTIONS_MANAGER, json=change)
        assert r.status_code == 422 and "passcode again" in r.json()["detail"], r.text
    assert sum(emulator.stats.calls.values()) == calls  # the stored passcode went nowhere
    shown = (await api.call("GET", f"/connections/{conn['id']}")).json()
    assert shown["region"] == "us1" and shown["api_base_url"] is None


async def test_vendor_text_is_summarised_in_checks_and_task_errors(api: Api, emulator: EmulatorState) -> None:
    conn = await api.connect()
    account = emulator.account(PROJECT)
    account.faults.fail200_rate = (
        1.0  # every answer: HTTP 200 {"status":"fail","error":"Internal Server Error"}
    )
    r = await api.call("POST", f"/connections/{conn['id']}/test")
    assert r.status_code == 200 and not r.json()["ok"]
    assert "Internal Server Error" not in r.text and "code 500" in r.text
    submitted = await api.call(
        "POST", "/requests", json={"type": "access", "subject": {"user_id": "user-42"}}
    )
    await api.work()
    shown = await api.call("GET", f"/requests/{submitted.json()['id']}")
    assert "Internal Server Error" not in shown.text
    page = await api.client.get(f"/requests/{submitted.json()['id']}", headers=api.auth(Role.VIEWER))
    assert page.status_code == 200 and "Internal Server Error" not in page.text
