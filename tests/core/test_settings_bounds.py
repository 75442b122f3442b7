"""Every numeric setting is bounded where it enters (the environment, the API, the CLI), and values
saved before the bounds existed are brought into them by migration 0009."""

from __future__ import annotations

import json
import math

import pytest
from alembic import command
from pydantic import ValidationError
from sqlalchemy import select, text

from rightly.http.permits import Limits
from rightly.services.runtime import Runtime
from rightly.settings import Settings
from rightly.store.db import _alembic_config
from rightly.store.models import Connection
from tests.core.helpers import connect


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("http_timeout", 0.0),
        ("http_timeout", 1e-300),
        ("http_timeout", math.inf),
        ("http_timeout", math.nan),
        ("lease_seconds", 0.0),
        ("lease_seconds", 1e9),
        ("worker_concurrency", 0),
        ("worker_concurrency", 10**9),
        ("deletion_batch_window", -1.0),
    ],
)
def test_nonsense_configuration_is_refused(name: str, value: float) -> None:
    with pytest.raises(ValidationError):
        Settings(**{name: value})


async def test_migration_brings_stored_nonsense_into_bounds(runtime: Runtime) -> None:
    await connect(runtime)
    async with runtime.db.engine.begin() as conn:
        await conn.run_sync(lambda c: _downgrade(c, "0006"))
        await conn.execute(text("UPDATE connections SET rate = 1e-300, max_in_flight = 0"))
        raw = (await conn.execute(text("SELECT settings FROM connections"))).scalar_one()
        settings = json.loads(raw) if isinstance(raw, str) else dict(raw)
        await conn.execute(
            text("UPDATE connections SET settings = :s"),
            {"s": json.dumps(settings | {"verify_interval": 1e-9})},
        )
    await runtime.db.migrate()
    async with runtime.db.session() as s:
        conn = (await s.execute(select(Connection))).scalar_one()
    assert (conn.rate, conn.max_in_flight, conn.settings["verify_interval"]) == (0.01, 1, 0.1)
    Limits(conn.max_in_flight, conn.rate)  # usable by the budget again


def _downgrade(sync_conn, revision: str) -> None:  # type: ignore[no-untyped-def]
    cfg = _alembic_config()
    cfg.attributes["connection"] = sync_conn
    command.downgrade(cfg, revision)
