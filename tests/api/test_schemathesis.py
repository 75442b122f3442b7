"""Property-based run over the OpenAPI schema, on SQLite and on PostgreSQL: no 5xx, and every answer
matches the schema. Every operation the schema lists is fuzzed, so a route added later is too.

The app runs with its lifespan on an event loop of its own in a background thread (hypothesis drives
synchronous tests), as a super admin, with a CleverTap connection (the emulator) and a request in place.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import negative_data_rejection, positive_data_acceptance

from rightly.app.runtime import open_runtime
from rightly.app.web import create_app
from rightly.domain.roles import Role
from rightly.emulator import EmulatorState, create_emulator_app
from rightly.services import tokens, users
from rightly.services.audit import Actor
from rightly.services.runtime import Runtime
from rightly.settings import Settings
from tests.api.conftest import CONNECTION
from tests.conftest import PASSCODE, PROJECT, REGION, TEST_KEY, drop_schema

# schemathesis 4 and the Hypothesis it declares (pinned together in pyproject): no shims.
schema = schemathesis.openapi.from_dict(
    create_app(Settings(home=Path("/nonexistent")), start_worker=False).openapi()
)


class Service:
    """The app and an httpx client on a loop in a background thread; ``request`` is synchronous."""

    def __init__(self, settings_: Settings) -> None:
        self.settings = settings_
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.ready = threading.Event()
        self.stop: asyncio.Event | None = None
        self.headers: dict[str, str] = {}
        self.client: httpx.AsyncClient | None = None
        self.job = asyncio.run_coroutine_threadsafe(self._serve(), self.loop)
        if not self.ready.wait(30):
            raise RuntimeError(f"the app did not start: {self.job.exception(timeout=1)}")

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def request(self, **kwargs: Any) -> httpx.Response:
        assert self.client is not None
        return self.run(self.client.request(**kwargs))  # type: ignore[no-any-return]

    async def _serve(self) -> None:
        box: dict[str, str] = {}

        @asynccontextmanager
        async def runtime_factory(s: Settings) -> AsyncIterator[Runtime]:
            state = EmulatorState(seed=1)
            state.add_account(PROJECT, PASSCODE, REGION).add_profile(
                identity="user-42", email="ada@example.com"
            )
            async with (
                httpx.AsyncClient(transport=httpx.ASGITransport(app=create_emulator_app(state))) as http,
                open_runtime(s, http=http) as rt,
            ):
                async with rt.db.session() as session:
                    await users.add_user(
                        session, rt.clock, Actor.cli(), "admin@example.com", Role.SUPER_ADMIN
                    )
                    _, box["token"] = await tokens.create_token(
                        session, rt.clock, Actor.cli(), "admin@example.com"
                    )
                yield rt

        app = create_app(self.settings, runtime_factory=runtime_factory, start_worker=False)
        self.stop = asyncio.Event()
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client,
        ):
            self.client = client
            self.headers = {"Authorization": f"Bearer {box['token']}"}
            self.ready.set()
            await self.stop.wait()

    def close(self) -> None:
        if self.stop is not None:
            self.loop.call_soon_threadsafe(self.stop.set)
        self.job.result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def service(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    home = tmp_path_factory.mktemp("st")
    pg: tuple[str, str] | None = None
    if request.param == "postgres":
        pg = (request.getfixturevalue("pg_url"), f"st_{uuid.uuid4().hex[:12]}")
        settings = Settings(
            home=home,
            database_url=pg[0],
            database_schema=pg[1],
            secret_key=TEST_KEY,
            deletion_batch_window=0.0,
        )
    else:
        settings = Settings(home=home, secret_key=TEST_KEY, deletion_batch_window=0.0)
    svc = Service(settings)
    try:
        r = svc.request(method="POST", url="/api/v1/connections", json=CONNECTION, headers=svc.headers)
        assert r.status_code == 201, r.text
        body = {"type": "access", "subject": {"email": "ada@example.com"}, "verified": True}
        r = svc.request(method="POST", url="/api/v1/requests", json=body, headers=svc.headers)
        assert r.status_code == 201, r.text
        yield svc
    finally:
        svc.close()
        if pg is not None:
            drop_schema(*pg)


@schema.parametrize()
@settings(
    max_examples=15,  # per operation and database: 30 cases an operation
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_api_matches_its_schema(case: schemathesis.Case, service: Service) -> None:
    if case.operation.path == "/api/v1/session" and case.method == "DELETE":
        return  # signing out would end nothing here, but keep the run about the token
    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=service.headers)
    kwargs.pop("cookies", None)
    for name in ("verify", "allow_redirects", "timeout", "cert", "proxies", "stream"):
        kwargs.pop(name, None)  # requests' options: the in-process client has its own
    if isinstance(kwargs.get("data"), bytes | str):  # a raw body, as httpx names it
        kwargs["content"] = kwargs.pop("data")
    # Generated header values may hold any character; on the wire they are bytes (UTF-8 here).
    kwargs["headers"] = {
        k: v if v.isascii() else v.encode() for k, v in (kwargs.get("headers") or {}).items()
    }
    response = service.request(**kwargs)
    # Every check but two: a schema cannot say which time zone names exist, or that the vendor must
    # accept the credentials, so a schema-valid body may rightly get a 422; and pydantic's lax parsing
    # reads a number as a time (?until=0.5 is the epoch), which the schema's "date-time" does not say.
    case.validate_response(response, excluded_checks=[positive_data_acceptance, negative_data_rejection])
