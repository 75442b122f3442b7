"""The API over HTTP (httpx + ASGITransport), with the CleverTap emulator behind it and a user and
token per role. The worker is driven explicitly (``api.work()``) so tests are deterministic."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from rightly.app.runtime import open_runtime
from rightly.app.web import create_app
from rightly.domain.clock import FakeClock
from rightly.domain.roles import Role
from rightly.engine.worker import WorkerOptions
from rightly.services import tokens, users
from rightly.services.audit import Actor
from rightly.services.runtime import Runtime
from rightly.settings import Settings
from tests.conftest import PASSCODE, PROJECT, REGION

PASSWORD = "correct horse battery staple"
CONNECTION = {"name": "clevertap-prod", "project_id": PROJECT, "passcode": PASSCODE, "region": REGION}


@dataclass
class Api:
    client: httpx.AsyncClient
    rt: Runtime
    tokens: dict[Role, str]
    responses: list[httpx.Response] = field(default_factory=list)

    def auth(self, role: Role | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}

    async def call(
        self, method: str, path: str, role: Role | None = Role.SUPER_ADMIN, **kw: Any
    ) -> httpx.Response:
        headers = self.auth(role) | kw.pop("headers", {})
        return await self.client.request(method, "/api/v1" + path, headers=headers, **kw)

    async def work(self) -> int:
        """Run everything due now, as the in-process worker would."""
        return await self.rt.worker(WorkerOptions(idle_poll=math.inf)).run_until_idle()

    async def connect(self, **overrides: Any) -> dict[str, Any]:
        r = await self.call("POST", "/connections", json=CONNECTION | overrides)
        assert r.status_code == 201, r.text
        return dict(r.json())


@asynccontextmanager
async def open_api(
    settings: Settings, clock: FakeClock, http: httpx.AsyncClient, passwords: bool = False
) -> AsyncIterator[Api]:
    @asynccontextmanager
    async def runtime_factory(s: Settings) -> AsyncIterator[Runtime]:
        async with open_runtime(s, clock=clock, http=http) as rt:
            yield rt

    app = create_app(settings, runtime_factory=runtime_factory, start_worker=False)
    async with app.router.lifespan_context(app):
        rt: Runtime = app.state.runtime
        secrets: dict[Role, str] = {}
        async with rt.db.session() as s:
            for role in Role:
                email = f"{role.value}@example.com"
                password = PASSWORD if passwords and role in (Role.SUPER_ADMIN, Role.VIEWER) else None
                await users.add_user(s, rt.clock, Actor.cli(), email, role, password)
                _, secrets[role] = await tokens.create_token(s, rt.clock, Actor.cli(), email, "tests")
        api = Api(httpx.AsyncClient(), rt, secrets)

        async def keep(response: httpx.Response) -> None:
            await response.aread()
            api.responses.append(response)

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", event_hooks={"response": [keep]}
        ) as client:
            api.client = client
            yield api


@pytest.fixture
async def api(
    sqlite_settings: Settings, clock: FakeClock, emulator_http: httpx.AsyncClient
) -> AsyncIterator[Api]:
    async with open_api(sqlite_settings, clock, emulator_http) as a:
        yield a


@pytest.fixture
async def api_any_db(
    db_settings: Settings, clock: FakeClock, emulator_http: httpx.AsyncClient
) -> AsyncIterator[Api]:
    """The API on SQLite and on PostgreSQL."""
    async with open_api(db_settings, clock, emulator_http, passwords=True) as a:
        yield a
