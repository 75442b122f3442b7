"""A database made before the connector seam (schema 0003) upgrades in place: its CleverTap
connection, an unfinished deletion and its evidence carry over, and the work goes on."""

from __future__ import annotations

import httpx
from sqlalchemy import text

from rightly.app.runtime import open_runtime
from rightly.domain.clock import FakeClock
from rightly.services import connections as conns
from rightly.settings import Settings
from rightly.store.db import Database
from rightly.store.models import Evidence
from rightly.store.secrets import Secrets
from tests.conftest import PASSCODE, PROJECT
from tests.core.helpers import run_until_done, submit, view


async def _old_database(settings: Settings, now: float) -> None:
    """Rows as Rightly wrote them at 0003: a connection, a deletion awaiting verification, its call."""
    db = Database(settings.resolved_database_url(), settings.database_schema)
    await db.migrate("0003")
    secret = Secrets.load(settings.home, settings.secret_key).encrypt(PASSCODE)
    async with db.engine.begin() as c:
        await c.execute(
            text(
                "INSERT INTO connections (id, name, vendor, project_id, region, passcode_encrypted, "
                "deletion_behavior, email_is_identity, max_in_flight, rate, verify_interval, api_base_url, "
                "health, created_at, updated_at, timezone) VALUES ('conn_old', 'clevertap-prod', 'clevertap', "
                ":pid, 'us1', :secret, 'until-complete', false, 3, 3.0, 60.0, NULL, 'ok', :now, :now, 'UTC')"
            ),
            {"pid": PROJECT, "secret": secret, "now": now},
        )
        await c.execute(
            text(
                "INSERT INTO requests (id, type, status, user_id, created_at, updated_at, due_at) "
                "VALUES ('req_old', 'deletion', 'processing', 'user-gone', :now, :now, :due)"
            ),
            {"now": now, "due": now + 30 * 86400},
        )
        await c.execute(
            text(
                "INSERT INTO tasks (id, request_id, connection_id, status, phase, detail, done, priority, "
                "next_run_at, attempts, targets, submit_count, submitted_at, first_submitted_at, checks, "
                "overdue, created_at, updated_at) VALUES ('task_old', 'req_old', 'conn_old', 'processing', "
                "'verify', 'deletion submitted', false, 2, :now, 0, :targets, 1, :now, :now, 0, false, :now, :now)"
            ),
            {"now": now, "targets": '{"identity": ["user-gone"]}'},
        )
        await c.execute(
            text(
                "INSERT INTO evidence (task_id, at, kind, method, endpoint, status_code, duration_ms, outcome) "
                "VALUES ('task_old', :now, 'delete', 'POST', 'POST /1/delete/profiles.json', 200, 12.5, 'accepted')"
            ),
            {"now": now},
        )
    await db.dispose()


async def test_a_database_at_0003_upgrades_and_its_work_goes_on(
    db_settings: Settings, clock: FakeClock, emulator_http: httpx.AsyncClient
) -> None:
    await _old_database(db_settings, clock.now())
    async with open_runtime(db_settings, clock=clock, http=emulator_http) as rt:
        assert await rt.db.is_current()
        async with rt.db.session() as s:
            conn = await conns.get_connection(s, "clevertap-prod")
            (ev,) = (await s.execute(Evidence.__table__.select())).all()
        view_ = conns.connection_view(rt, conn)
        assert (view_["project_id"], view_["region"], view_["verify_interval"]) == (PROJECT, "us1", 60.0)
        assert view_["target"] == f"{PROJECT}, us1" and PASSCODE not in str(view_)
        assert (ev.method, ev.endpoint, ev.host) == (
            "POST",
            "/1/delete/profiles.json",
            "https://us1.api.clevertap.com",
        )
        await run_until_done(rt)  # the carried-over deletion is verified with the carried-over passcode
        (item,) = (await view(rt, "req_old"))["integrations"]
        assert (item["status"], item["detail"], item["checks"]) == ("complete", "deletion verified", 1)
        rid = await submit(rt, "access", "ada@example.com")  # and new work runs on the old connection
        await run_until_done(rt)
        assert (await view(rt, rid))["integrations"][0]["detail"] == "1 record found"
