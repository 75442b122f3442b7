"""The web UI over HTTP (httpx + ASGITransport) on the API's test harness: the CleverTap emulator
behind it, a user per role, the worker driven explicitly."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from rightly.domain.clock import FakeClock
from rightly.domain.roles import Role
from rightly.faces.auth import SESSION_COOKIE
from rightly.services import tokens, users
from rightly.settings import Settings
from rightly.web.security import session_csrf
from tests.api.conftest import Api, open_api


@dataclass
class Browser:
    """One signed-in browser: its cookie jar and its forms' CSRF token."""

    client: httpx.AsyncClient
    csrf: str

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.client.get(path, **kw)

    async def post(self, path: str, data: dict[str, Any] | None = None, csrf: bool = True) -> httpx.Response:
        form = dict(data or {})
        if csrf:
            form["csrf"] = self.csrf
        return await self.client.post(path, data=form)


@dataclass
class Web:
    api: Api

    async def browser(self, role: Role) -> Browser:
        rt = self.api.rt
        async with rt.db.session() as s:
            user = await users.get_user(s, f"{role.value}@example.com")
            _, secret = await tokens.start_session(s, rt.clock, user)
        client = httpx.AsyncClient(transport=self.api.client._transport, base_url="http://testserver")
        client.cookies.set(SESSION_COOKIE, secret)
        return Browser(client, session_csrf(secret))


@pytest.fixture
async def web(
    sqlite_settings: Settings, clock: FakeClock, emulator_http: httpx.AsyncClient
) -> AsyncIterator[Web]:
    async with open_api(sqlite_settings, clock, emulator_http, passwords=True) as api:
        yield Web(api)


def hidden_csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)
