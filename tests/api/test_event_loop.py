"""Nothing stops the event loop: ``rightly serve`` (a process of its own, as people run it, with
its in-process worker, on SQLite) keeps answering ``GET /healthz`` while another process holds the
database's write lock and while a burst of sign-ins hashes passwords. The request that needs the
lock waits for it, then either goes through or fails with a clear 503; never a hang, never the SQL."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from rightly.store.db import DATABASE_BUSY, SQLITE_BUSY_TIMEOUT
from rightly.web.security import session_csrf
from tests.cli.conftest import RIGHTLY, free_port, start_emulator
from tests.conftest import PASSCODE, PROJECT, REGION
from tests.sqlite_lock import write_lock

ADMIN, PASSWORD = "admin@example.com", "correct horse battery staple"
ACCESS = {"type": "access", "subject": {"email": "ada@example.com", "user_id": "user-42"}, "verified": True}
LOCK_SECONDS = 8.0
MARGIN = 2.0


@dataclass
class Served:
    url: str
    home: Path
    emulator: str  # the CleverTap emulator's base URL


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``rightly serve`` on a fresh SQLite home with one super admin, the emulator beside it."""
    tmp_path = tmp_path_factory.mktemp("served")
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIGHTLY_")}
    env |= {
        "RIGHTLY_HOME": str(home),
        "RIGHTLY_DELETION_BATCH_WINDOW": "0",
        "RIGHTLY_ALLOW_CUSTOM_BASE_URLS": "1",
    }
    add = [*RIGHTLY, "user", "add", "--email", ADMIN, "--role", "super_admin", "--password-stdin"]
    subprocess.run(
        add, input=PASSWORD + "\n", env=env, check=True, capture_output=True, text=True, timeout=60
    )
    emulator, emulator_url = start_emulator(tmp_path)
    port = free_port()
    with (tmp_path / "serve.log").open("wb") as log:
        server = subprocess.Popen([*RIGHTLY, "serve", "--port", str(port)], env=env, stdout=log, stderr=log)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"rightly serve did not start: {(tmp_path / 'serve.log').read_text()}")
            time.sleep(0.1)
        yield Served(url, home, emulator_url)
    finally:
        for proc in (server, emulator):
            proc.terminate()
            proc.wait(20)


@pytest.fixture
async def http(served: Served) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=served.url, timeout=60) as client:
        yield client


async def _timed(call: Awaitable[httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await call
    return response, time.monotonic() - started


async def _poll_healthz(http: httpx.AsyncClient, until: asyncio.Future[object]) -> list[float]:
    """GET /healthz every 20 ms until ``until`` is done: how long each answer took."""
    took = []
    while not until.done():
        response, seconds = await _timed(http.get("/healthz"))
        assert response.status_code == 200 and response.json()["status"] == "ok"
        took.append(seconds)
        await asyncio.sleep(0.02)
    return took


def _summary(took: list[float]) -> str:
    return f"{len(took)} healthz, median {statistics.median(took) * 1000:.1f} ms, slowest {max(took) * 1000:.1f} ms"


async def _sign_in(http: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await http.post("/api/v1/session", json={"email": email, "password": password})


async def _wait_complete(http: httpx.AsyncClient, request_id: str, seconds: float = 30) -> str:
    deadline = time.monotonic() + seconds
    status = ""
    while time.monotonic() < deadline:
        status = (await http.get(f"/api/v1/requests/{request_id}")).json()["status"]
        if status == "complete":
            break
        await asyncio.sleep(0.1)
    return status


async def test_a_locked_database_holds_up_one_request_never_the_process(
    served: Served, http: httpx.AsyncClient
) -> None:
    assert (await _sign_in(http, ADMIN)).status_code == 200
    connection = {"name": "ct", "project_id": PROJECT, "passcode": PASSCODE, "region": REGION}
    created = await http.post("/api/v1/connections", json=connection | {"api_base_url": served.emulator})
    assert created.status_code == 201, created.text
    form = {"type": "access", "email": "grace@example.com", "user_id": "", "verified": "true"}
    form["csrf"] = session_csrf(http.cookies["rightly_session"])

    with write_lock(served.home / "rightly.db", LOCK_SECONDS) as holder:
        api = asyncio.ensure_future(_timed(http.post("/api/v1/requests", json=ACCESS)))
        page = asyncio.ensure_future(_timed(http.post("/requests/new", data=form)))
        healthz = await _poll_healthz(http, asyncio.gather(api, page))
        lock_still_held = holder.poll() is None
    (submitted, api_seconds), (shown, page_seconds) = api.result(), page.result()

    print(
        f"\nunder the lock: {_summary(healthz)}; "
        f"POSTs: {submitted.status_code} in {api_seconds:.1f} s, {shown.status_code} in {page_seconds:.1f} s"
    )
    assert len(healthz) > 20 and max(healthz) < 0.5
    # Each request waited for the lock (the busy timeout) and then said so, or went through once free.
    for seconds in (api_seconds, page_seconds):
        assert seconds < max(SQLITE_BUSY_TIMEOUT, LOCK_SECONDS) + MARGIN
    if submitted.status_code == 503:
        assert lock_still_held and api_seconds < SQLITE_BUSY_TIMEOUT + MARGIN
        assert submitted.json() == {"detail": DATABASE_BUSY}
    else:
        assert submitted.status_code == 201, submitted.text
    if shown.status_code == 503:
        assert "text/html" in shown.headers["content-type"]
        assert "The database is busy" in shown.text and DATABASE_BUSY in shown.text
        assert "INSERT" not in shown.text and "sqlite3" not in shown.text
    else:
        assert shown.status_code == 303, shown.text  # submitted: on to the request's page

    # Once the lock is gone everything works again, the in-process worker included.
    again = await http.post("/api/v1/requests", json=ACCESS | {"subject": {"email": "grace@example.com"}})
    assert again.status_code in (200, 201), again.text
    assert await _wait_complete(http, again.json()["id"]) == "complete"


async def test_sign_ins_hash_passwords_off_the_event_loop(http: httpx.AsyncClient) -> None:
    """20 sign-ins at once, right and wrong passwords: each costs a fifth of a second of Argon2id,
    and /healthz answers throughout."""
    attempts = [
        _sign_in(http, ADMIN)
        if i % 2 == 0
        else _sign_in(http, f"stranger{i}@example.com", "not the password")
        for i in range(20)
    ]
    sign_ins = asyncio.gather(*attempts)
    healthz = await _poll_healthz(http, sign_ins)
    statuses = [r.status_code for r in sign_ins.result()]
    print(f"\nduring 20 sign-ins: {_summary(healthz)}")
    assert statuses == [200 if i % 2 == 0 else 401 for i in range(20)]
    assert len(healthz) > 5 and max(healthz) < 0.3
