"""End to end through the CLI, against the emulator over a real socket, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import stat
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from rightly.settings import Settings
from rightly.store.auth_models import AuditEntry
from rightly.store.db import Database
from rightly.store.models import Task
from tests.cli.conftest import Cli
from tests.conftest import PASSCODE


def test_wrong_passcode_is_refused_in_one_line_and_nothing_is_saved(cli: Cli) -> None:
    result = cli.connect("wrong-passcode-123")
    assert result.returncode != 0
    assert "rejected the Project ID or Passcode" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 or "not saved" in result.stderr
    assert cli.json("connections", "list") == []


def test_bad_region_is_refused_before_any_call(cli: Cli) -> None:
    result = cli(
        "connect",
        "clevertap",
        "--name",
        "x",
        "--project-id",
        "P",
        "--region",
        "mars1",
        "--passcode-stdin",
        stdin="x\n",
    )
    assert (
        result.returncode != 0
        and "unknown CleverTap region 'mars1'" in result.stderr
        and "sk1" in result.stderr
    )


def test_access_and_deletion_through_the_cli(cli: Cli) -> None:
    cli.connect().check_returncode()
    (conn,) = cli.json("connections", "list")  # type: ignore[misc]
    assert conn["name"] == "ct" and conn["health"] == "ok"

    access: Any = cli.json(
        "request", "access", "--email", "ada@example.com", "--user-id", "user-42", "--wait", "--verified"
    )
    assert access["status"] == "complete"
    (item,) = access["integrations"]
    assert item["detail"] == "1 record found" and item["records"][0]["identity"] == "user-42"
    assert set(access) >= {"id", "type", "status", "subject", "created_at", "integrations"}
    assert set(item) >= {"connection", "status", "detail", "records", "error"}

    deletion: Any = cli.json("request", "delete", "--email", "grace@example.com", "--wait", "--verified")
    (item,) = deletion["integrations"]
    assert (deletion["status"], item["detail"]) == ("complete", "deletion verified")

    again: Any = cli.json("request", "access", "--email", "grace@example.com", "--wait", "--verified")
    assert again["integrations"][0]["detail"] == "no records found"

    shown: Any = cli.json("request", "show", deletion["id"])
    assert shown["id"] == deletion["id"] and shown["status"] == "complete"
    listed: Any = cli.json("request", "list", "--status", "complete")
    assert {r["id"] for r in listed} >= {access["id"], deletion["id"]}
    human = cli("request", "show", access["id"], check=True).stdout
    assert "1 record found" in human and "Ada Lovelace" in human

    key = Path(cli.env["RIGHTLY_HOME"]) / "secret.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    for output in cli.outputs:
        assert PASSCODE not in output
    for path in Path(cli.env["RIGHTLY_HOME"]).rglob("*"):
        if path.is_file():
            assert PASSCODE.encode() not in path.read_bytes(), path


def test_a_killed_worker_loses_no_deletion(cli_env: dict[str, str], tmp_path: Path) -> None:
    """A worker dies while its deletion call is in flight; another takes the task over when the
    lease runs out, re-sends the deletion and verifies it."""
    import subprocess
    import sys

    from tests.cli.conftest import start_emulator

    # A long call, so the CLI (about 2 s to start here) sees it in flight at least twice.
    proc, base = start_emulator(tmp_path, "--latency-ms", "5000")
    try:
        env = cli_env | {"RIGHTLY_LEASE_SECONDS": "3"}
        cli = Cli(env, base)
        cli.connect().check_returncode()
        submitted: Any = cli.json("request", "delete", "--user-id", "user-9")
        worker = subprocess.Popen(
            [sys.executable, "-m", "rightly", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        # Watch the database itself (a CLI start takes seconds under load): once the intent to
        # delete is recorded, the 5-second deletion call is on its way.
        while time.monotonic() < deadline and not asyncio.run(_intent_recorded(env)):
            time.sleep(0.02)
        worker.kill()  # SIGKILL: no clean-up, the lease stays behind
        worker.wait(10)
        mid: Any = cli.json("request", "show", submitted["id"])
        assert mid["integrations"][0]["submitted_at"] is None  # the dead worker never recorded the fact
        finished = cli("worker", "--until-done", timeout=120)
        assert finished.returncode == 0, finished.stderr
        done: Any = cli.json("request", "show", submitted["id"])
        (item,) = done["integrations"]
        assert (done["status"], item["detail"]) == ("complete", "deletion verified")
        assert item["submitted_at"] is not None
    finally:
        proc.terminate()
        proc.wait(10)
    assert os.environ.get("RIGHTLY_LEASE_SECONDS") is None


def _database(env: dict[str, str]) -> Database:
    settings = Settings(
        home=Path(env["RIGHTLY_HOME"]),
        database_url=env.get("RIGHTLY_DATABASE_URL"),
        database_schema=env.get("RIGHTLY_DATABASE_SCHEMA"),
    )
    return Database(settings.resolved_database_url(), settings.database_schema)


async def _intent_recorded(env: dict[str, str]) -> bool:
    db = _database(env)
    try:
        async with db.session() as s:
            found = await s.execute(select(Task.id).where(Task.submit_intent_at.is_not(None)))
            return found.first() is not None
    finally:
        await db.dispose()


async def test_the_cli_audits_what_it_changes_as_the_local_operator(cli: Cli) -> None:
    import getpass

    cli.connect().check_returncode()
    deletion: Any = cli.json("request", "delete", "--user-id", "user-9")
    db = _database(cli.env)
    try:
        async with db.session() as s:
            entries = list((await s.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars())
    finally:
        await db.dispose()
    done = [(e.actor_type, e.actor, e.action, e.outcome) for e in entries]
    me = f"cli:{getpass.getuser()}"
    assert ("cli", me, "connection.create", "ok") in done
    assert ("cli", me, "request.submit", "ok") in done
    submitted = next(e for e in entries if e.action == "request.submit")
    assert submitted.target == f"request:{deletion['id']}" and PASSCODE not in str(done)
