"""Another process holding SQLite's write lock, as a second Rightly process (or a backup) can."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_HOLD = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], timeout=20, isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


@contextmanager
def write_lock(database: Path, seconds: float) -> Iterator[subprocess.Popen[str]]:
    """A python subprocess takes ``BEGIN EXCLUSIVE`` on ``database`` and holds it ``seconds`` (or
    until the block ends: the process is then killed, which lets go of the lock at once); the block
    starts once the lock is held."""
    with subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(database), str(seconds)], stdout=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "locked":
                raise RuntimeError("the lock holder did not take the lock")
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
