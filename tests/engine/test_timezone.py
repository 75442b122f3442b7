"""The nightly deletion batch runs at 02:00-04:00 in the *project's* time zone: verification aims
just after it there, so a project west or east of UTC is still proven with one lookup."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from rightly.connectors.clevertap.schedule import HOUR, VerifySchedule
from rightly.emulator import EmulatorState
from rightly.services.errors import InvalidInput
from rightly.services.runtime import Runtime
from rightly.store.models import Evidence
from tests.conftest import PASSCODE, REGION
from tests.core.helpers import connect, run_until_done, submit, view

MIDNIGHT = 1_767_225_600.0  # 2026-01-01T00:00Z


@pytest.mark.parametrize(
    ("timezone", "window_end_utc"),
    [
        ("UTC", MIDNIGHT + 4.25 * HOUR),  # 04:15 UTC on 1 January
        ("America/New_York", MIDNIGHT + 9.25 * HOUR),  # 04:15 EST = 09:15 UTC
        ("Asia/Kolkata", MIDNIGHT + 22.75 * HOUR),  # 04:15 IST on 2 January = 22:45 UTC on 1 January
    ],
)
def test_checks_aim_after_the_window_in_the_projects_time_zone(timezone: str, window_end_utc: float) -> None:
    s = VerifySchedule(timezone=timezone, spread=0.0)
    now = MIDNIGHT  # 00:00 UTC, 19:00 the day before in New York, 05:30 in Kolkata
    assert s.next_check(now, 0, now) == window_end_utc


def test_the_window_keeps_its_local_hours_across_daylight_saving() -> None:
    s = VerifySchedule(timezone="America/New_York", spread=0.0)
    summer = 1_783_036_800.0  # 2026-07-03T00:00Z, during daylight saving time (UTC-4)
    assert s.next_check(summer, 0, summer) == summer + 8.25 * HOUR  # 04:15 EDT = 08:15 UTC


async def test_unknown_time_zones_are_refused(runtime: Runtime) -> None:
    with pytest.raises(InvalidInput, match="unknown time zone"):
        await connect(runtime, timezone="Mars/Olympus")


async def test_a_project_in_new_york_is_verified_with_one_lookup(
    runtime: Runtime, emulator: EmulatorState
) -> None:
    ny = emulator.add_account("NY-PROJECT", PASSCODE, REGION, timezone="America/New_York")
    ny.add_profile(identity="user-ny", email="ny@example.com")
    await connect(runtime, project_id="NY-PROJECT", timezone="America/New_York")
    rid = await submit(runtime, "deletion", user_id="user-ny")
    await run_until_done(runtime)
    (item,) = (await view(runtime, rid))["integrations"]
    assert item["detail"] == "deletion verified"
    async with runtime.db.session() as s:
        lookups = (
            await s.execute(select(func.count()).select_from(Evidence).where(Evidence.kind == "lookup"))
        ).scalar()
    assert lookups == 1 and item["checks"] == 1
