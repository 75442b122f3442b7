"""`rightly demo` (what `make demo` runs) does the whole job on the embedded default and exits 0."""

from __future__ import annotations

import os
import subprocess
import sys


def test_demo_runs_access_and_a_verified_deletion() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIGHTLY_")} | {"COLUMNS": "160"}
    result = subprocess.run(
        [sys.executable, "-m", "rightly", "demo"], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "1 record found" in out and "deletion verified" in out and "demo finished" in out
    assert "demo-passcode-not-real" not in out + result.stderr
