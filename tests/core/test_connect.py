"""Connecting checks credentials and the delete permission at once, explains failures, saves nothing."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from rightly.app.runtime import open_runtime
from rightly.emulator import EmulatorState
from rightly.services import connections as conns
from rightly.services.errors import InvalidInput, ValidationFailed
from rightly.services.runtime import Runtime
from rightly.settings import Settings
from rightly.store.models import Connection
from tests.conftest import PASSCODE, PROJECT
from tests.core.helpers import ACTOR, connect


async def count(rt: Runtime) -> int:
    async with rt.db.session() as s:
        return int((await s.execute(select(func.count()).select_from(Connection))).scalar() or 0)


async def refused(rt: Runtime, **overrides: object) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as info:
        await connect(rt, **overrides)
    assert await count(rt) == 0
    return info.value


async def test_a_wrong_passcode_is_explained_and_nothing_is_saved(runtime: Runtime) -> None:
    exc = await refused(runtime, passcode=SecretStr("not-the-passcode"))
    assert "rejected the Project ID or Passcode" in str(exc) and "region" in str(exc)
    assert "not-the-passcode" not in str(exc) and PASSCODE not in str(exc)


async def test_the_wrong_region_gets_the_same_explanation(runtime: Runtime) -> None:
    exc = await refused(runtime, region="eu1")
    assert "Europe (eu1)" in str(exc) and "another region" in str(exc)


async def test_a_passcode_without_delete_rights_is_refused(runtime: Runtime, emulator: EmulatorState) -> None:
    emulator.account(PROJECT).add_passcode("read-only-pass", can_delete=False)
    exc = await refused(runtime, passcode=SecretStr("read-only-pass"))
    assert "lacks permission to delete" in str(exc) and "Admin" in str(exc)
    assert [c["ok"] for c in exc.checks] == [True, False]


async def test_an_unreachable_host_is_named(db_settings: Settings) -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(unreachable)) as http,
        open_runtime(db_settings, http=http) as rt,
    ):
        exc = await refused(rt)
    assert "could not reach https://us1.api.clevertap.com" in str(exc)


async def test_a_good_connection_is_saved_healthy(runtime: Runtime) -> None:
    conn = await connect(runtime)
    assert conn.health == "ok" and await count(runtime) == 1
    async with runtime.db.session() as s:
        tested, validation = await conns.test_connection(s, runtime, ACTOR, "clevertap-prod")
    assert validation.ok and tested.health == "ok"
    view = conns.connection_view(runtime, tested)
    assert "passcode" not in " ".join(view) and PASSCODE not in str(view)


@pytest.mark.parametrize("region", ["us2", "", "EU-1"])
async def test_unknown_regions_are_refused_before_any_call(
    runtime: Runtime, emulator: EmulatorState, region: str
) -> None:
    with pytest.raises(InvalidInput, match="unknown CleverTap region") as info:
        await connect(runtime, region=region)
    assert info.value.errors[0]["field"] == "region"
    assert await count(runtime) == 0 and sum(emulator.stats.calls.values()) == 0


async def test_all_seven_regions_are_accepted(runtime: Runtime) -> None:
    connector = runtime.registry.get("clevertap")
    for code in ("eu1", "in1", "sg1", "us1", "aps3", "mec1", "sk1"):
        assert connector.parse_settings({"project_id": "P", "region": code}, runtime.policy).region == code
    assert connector.parse_settings({"project_id": "P", "region": " US1 "}, runtime.policy).region == "us1"


async def test_a_passcode_that_cannot_travel_in_a_header_is_refused_without_echoing_it(
    runtime: Runtime, emulator: EmulatorState
) -> None:
    with pytest.raises(InvalidInput) as info:
        await connect(runtime, passcode="pässcode")
    assert "printable ASCII" in str(info.value) and "pässcode" not in str(info.value)
    assert await count(runtime) == 0 and sum(emulator.stats.calls.values()) == 0
