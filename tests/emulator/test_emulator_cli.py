"""The command line: options, clear one-line errors, seed files, and a real server process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from rightly.emulator import EmulatorState, SeedError, load_seed
from rightly.emulator.cli import build_state, main, parse_options

SEED_RECORDS = [
    {"type": "profile", "identity": "u-1", "profileData": {"Email": "ann@example.com", "Name": "Ann"}},
    {"type": "event", "identity": "u-1", "evtName": "App Launched", "ts": 1767225600},
    {
        "type": "profile",
        "identity": "u-2",
        "profileData": {"Email": "bo@example.com"},
        "objectIds": ["ios-2", "web-2"],
        "events": {"Charged": {"count": 3, "first_seen": 1767225600, "last_seen": 1767312000}},
    },
]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--account", "P:pc:us9"], "valid regions: eu1, in1, sg1, us1, aps3, mec1, sk1"),
        (["--account", "P-only"], "is not PROJECT_ID:PASSCODE:REGION"),
        ([], "give at least one PROJECT_ID:PASSCODE:REGION"),
        (["--account", "P:pc:us1", "--port", "http"], "'--port'"),
        (["--account", "P:pc:us1", "--latency-ms", "fast"], "'--latency-ms'"),
        (["--account", "P:pc:us1", "--max-in-flight", "0"], "'--max-in-flight'"),
        (["--account", "P:pc:us1", "--not-found-shape", "404"], "'null', 'fail'"),
        (["--account", "P:pc:us1", "--drop-rate", "1.5"], "'--drop-rate'"),
        (["--account", "P:pc:us1", "--timezone", "Mars/Olympus"], "unknown time zone"),
        (["--account", "P:pc:us1", "--account", "P:pc2:eu1"], "already exists"),
        (["--account", "P:pc:us1", "--seed", "/no/such/seed.json"], "cannot read"),
        (["--account", "P:pc:us1", "--bogus"], "No such option"),
    ],
)
def test_bad_options_give_one_clear_line_and_a_nonzero_exit(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("rightly emulator: error: ")
    assert expected in err


def test_a_taken_port_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["--account", "P:pc:us1", "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cannot listen on 127.0.0.1:{port}" in err


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "--deletion-delay" in capsys.readouterr().out


def test_options_shape_every_account(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(SEED_RECORDS))
    options = parse_options(
        [
            "--account", "TEST-1:pass:word:US1",
            "--account", "TEST-2:pc2:eu1",
            "--max-in-flight", "2", "--rate", "3", "--latency-ms", "20-80",
            "--deletion-delay", "5", "--not-found-shape", "fail", "--seed", str(seed),
            "--error-rate", "0.1", "--random-seed", "9",
        ]
    )  # fmt: skip
    assert options is not None
    state = build_state(options)
    first = state.account("TEST-1")
    assert (first.region, list(first.passcodes)) == ("us1", ["pass:word"])
    for acct in state.accounts.values():
        assert (acct.max_in_flight, acct.rate, acct.deletion_delay, acct.not_found_shape) == (
            2,
            3.0,
            5.0,
            "fail",
        )
        assert acct.faults.latency_ms == (20.0, 80.0)
        assert acct.faults.error_5xx_rate == 0.1
        assert acct.profile_count() == 2  # a list seed goes to every account
    assert state.seed == 9


def test_seed_per_account_and_its_extras() -> None:
    state = EmulatorState()
    state.add_account("A-1", "pc", "us1")
    state.add_account("B-1", "pc", "in1")
    assert load_seed(state, {"accounts": {"A-1": SEED_RECORDS}}) == 3
    assert state.account("B-1").profile_count() == 0
    ann = state.account("A-1").find(email="ann@example.com")
    assert ann is not None and ann.events["App Launched"]["count"] == 1
    bo = state.account("A-1").find(object_id="web-2")
    assert bo is not None and bo.object_ids == ["ios-2", "web-2"]
    assert bo.events["Charged"] == {"count": 3, "first_seen": 1767225600, "last_seen": 1767312000}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"profiles": []}, "list of upload records"),
        ({"accounts": {"NOPE": []}}, "not configured"),
        ({"accounts": {"A-1": {"identity": "u"}}}, "must be a list"),
        ([{"type": "profile", "profileData": {}}], "is necessary"),
    ],
)
def test_bad_seeds_are_refused(data: object, message: str) -> None:
    state = EmulatorState()
    state.add_account("A-1", "pc", "us1")
    with pytest.raises(SeedError, match=message):
        load_seed(state, data)


def test_the_server_process_serves_seeded_accounts_and_compressed_deletions(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"accounts": {"TEST-9": SEED_RECORDS}}))
    argv = ["--port", "0", "--account", "TEST-9:pc-9:sg1", "--seed", str(seed), "--deletion-delay", "0.3"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(
        [sys.executable, "-m", "rightly.emulator", *argv], stdout=subprocess.PIPE, text=True, env=env
    ) as proc:
        try:
            check_running_server(proc)
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def check_running_server(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    banner = [proc.stdout.readline() for _ in range(3)]
    root = banner[0].split(" on ")[1].split()[0]
    assert f"TEST-9 (sg1): {root}/sg1" in banner[1]
    auth = {"X-CleverTap-Account-Id": "TEST-9", "X-CleverTap-Passcode": "pc-9"}
    with httpx.Client(base_url=f"{root}/sg1", headers=auth, timeout=5) as client:
        found = client.get("/1/profile.json", params={"email": "ANN@example.com"}).json()
        assert found["record"]["identity"] == "u-1"
        assert client.post("/1/delete/profiles.json", json={"identity": "u-1"}).json() == {
            "status": "success"
        }
        assert client.get("/1/profile.json", params={"identity": "u-1"}).json()["record"] is not None
        time.sleep(0.35)
        assert client.get("/1/profile.json", params={"identity": "u-1"}).json()["record"] is None
        assert client.get(f"{root}/us1/1/profile.json", params={"identity": "u-2"}).status_code == 401
        stats = client.get(f"{root}/_emulator/stats").json()
    assert stats["deletions"][0]["identity"] == ["u-1"]
