"""A real HTTP server for the browser tests: ``create_app`` under uvicorn in a background thread,
the CleverTap emulator behind it (in-process), the in-process worker running, and a clock the
test can move forward (CleverTap's nightly deletion batch passes in a few seconds)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from rightly.app.runtime import open_runtime
from rightly.app.web import create_app
from rightly.domain.roles import Role
from rightly.emulator import EmulatorState, create_emulator_app
from rightly.services import users
from rightly.services.audit import Actor
from rightly.services.runtime import Runtime
from rightly.settings import Settings

PASSWORD = "correct horse battery staple"


class ShiftableClock:
    """Real time plus an offset the test adds to. Sleeps really wait (briefly), so the worker
    keeps polling and the budget's waits pass as they would in production."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:
        self._base = start
        self._t0 = time.monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._base + (time.monotonic() - self._t0) + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(min(max(seconds, 0.0), 0.05))


@dataclass
class Live:
    url: str
    clock: ShiftableClock
    emulator: EmulatorState


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(home: Path, emulator: EmulatorState, clock: ShiftableClock, **more: Any) -> Iterator[Live]:
    """``more``: further settings (a mail server, say); the links in emails point at this server."""
    port = _free_port()
    settings = Settings(
        home=home,
        secret_key="test-key",
        deletion_batch_window=0.0,
        public_url=f"http://127.0.0.1:{port}",
        **more,
    )

    @asynccontextmanager
    async def runtime_factory(s: Settings) -> AsyncIterator[Runtime]:
        transport = httpx.ASGITransport(app=create_emulator_app(emulator))
        async with (
            httpx.AsyncClient(transport=transport) as http,
            open_runtime(s, clock=clock, http=http) as rt,
        ):
            async with rt.db.session() as session:
                for role in Role:
                    await users.add_user(
                        session, clock, Actor.cli(), f"{role.value}@example.com", role, PASSWORD
                    )
            yield rt

    app = create_app(settings, runtime_factory=runtime_factory)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="rightly-live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the web server did not start")
        time.sleep(0.02)
    try:
        yield Live(f"http://127.0.0.1:{port}", clock, emulator)
    finally:
        server.should_exit = True
        thread.join(timeout=20)
