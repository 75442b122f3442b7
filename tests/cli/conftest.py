"""The CLI as a user runs it: `rightly` subprocesses against the emulator served over a real socket."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import PASSCODE, PROJECT, REGION, drop_schema

RIGHTLY = [sys.executable, "-m", "rightly"]
SEED = [
    {
        "type": "profile",
        "identity": "user-42",
        "objectIds": ["obj-ada-ios", "obj-ada-web"],
        "profileData": {"Email": "ada@example.com", "Name": "Ada Lovelace"},
        "events": {"App Launched": {"count": 12, "first_seen": 1700000000, "last_seen": 1760000000}},
    },
    {"type": "profile", "identity": "user-7", "profileData": {"Email": "grace@example.com", "Name": "Grace"}},
    {"type": "profile", "identity": "user-9", "profileData": {"Email": "kat@example.com", "Name": "Kat"}},
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"emulator exited early: {log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("emulator did not start")


@dataclass
class Cli:
    env: dict[str, str]
    base_url: str
    outputs: list[str] = field(default_factory=list)

    def __call__(
        self, *args: str, stdin: str | None = None, check: bool = False, timeout: float = 90
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*RIGHTLY, *args], input=stdin, capture_output=True, text=True, env=self.env, timeout=timeout
        )
        self.outputs.append(result.stdout + result.stderr)
        if check and result.returncode != 0:
            raise AssertionError(
                f"rightly {' '.join(args)} failed ({result.returncode}): {result.stderr}{result.stdout}"
            )
        return result

    def json(self, *args: str) -> object:
        return json.loads(self(*args, "--json", check=True).stdout)

    def connect(self, passcode: str = PASSCODE, *extra: str) -> subprocess.CompletedProcess[str]:
        return self(
            "connect",
            "clevertap",
            "--name",
            "ct",
            "--project-id",
            PROJECT,
            "--region",
            REGION,
            "--passcode-stdin",
            "--api-base-url",
            self.base_url,
            "--verify-interval",
            "1",
            *extra,
            stdin=passcode + "\n",
        )


def start_emulator(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(SEED))
    port = free_port()
    log = tmp_path / f"emulator-{port}.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [
                *RIGHTLY,
                "emulator",
                "--port",
                str(port),
                "--account",
                f"{PROJECT}:{PASSCODE}:{REGION}",
                "--seed",
                str(seed),
                "--deletion-delay",
                "1",
                *extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    wait_for_port(port, proc, log)
    return proc, f"http://127.0.0.1:{port}/{REGION}"


@pytest.fixture(params=["sqlite", "postgres"])
def cli_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIGHTLY_")}
    env |= {
        "RIGHTLY_HOME": str(tmp_path / "home"),
        "RIGHTLY_DELETION_BATCH_WINDOW": "0",
        "RIGHTLY_ALLOW_CUSTOM_BASE_URLS": "1",  # the emulator serves on 127.0.0.1
        "COLUMNS": "200",
    }
    if request.param == "sqlite":
        yield env
        return
    url = request.getfixturevalue("pg_url")
    schema = f"rt_{uuid.uuid4().hex[:12]}"
    yield env | {"RIGHTLY_DATABASE_URL": url, "RIGHTLY_DATABASE_SCHEMA": schema}
    drop_schema(url, schema)


@pytest.fixture
def cli(cli_env: dict[str, str], tmp_path: Path) -> Iterator[Cli]:
    proc, base = start_emulator(tmp_path)
    try:
        yield Cli(cli_env, base)
    finally:
        proc.terminate()
        proc.wait(10)
