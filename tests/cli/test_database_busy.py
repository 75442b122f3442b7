"""The CLI on a database another process holds locked: one line saying so, and a failing exit."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from rightly.store.db import DATABASE_BUSY, SQLITE_BUSY_TIMEOUT
from tests.cli.conftest import RIGHTLY
from tests.sqlite_lock import write_lock


def test_a_locked_database_is_one_line_and_exit_1(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIGHTLY_")}
    env |= {"RIGHTLY_HOME": str(tmp_path / "home"), "COLUMNS": "200"}

    def add_user(email: str) -> subprocess.CompletedProcess[str]:
        command = [*RIGHTLY, "user", "add", "--email", email, "--role", "viewer"]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)

    assert add_user("first@example.com").returncode == 0  # creates the database
    with write_lock(tmp_path / "home" / "rightly.db", 60):  # until the command is done
        started = time.monotonic()
        refused = add_user("second@example.com")
        waited = time.monotonic() - started
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr == f"error: {DATABASE_BUSY}\n"
    assert SQLITE_BUSY_TIMEOUT < waited < SQLITE_BUSY_TIMEOUT + 10  # the wait, and starting Python
