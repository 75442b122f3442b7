"""The ASGI app: route by region, authenticate, apply limits and faults, answer.

Routing (clevertap-api.md §1): a path prefix ``/<region>/...`` (how one server process serves
every region: ``http://HOST:PORT/us1`` is us1's base URL), or else the Host header
``<region>.api.clevertap.com`` (``api.clevertap.com`` is eu1), so in-process tests can keep the
product's real base URLs. An account's calls sent to another region's base URL get 401, the answer
clevertap-api.md §1 reports for the wrong regional host.

Order of checks for a known call: credentials (401) → due deletions are purged → limits (429) →
latency and faults → the call itself. Only admitted calls count as in flight and take latency.

Faults (``rightly.emulator.faults``): ``5xx``, ``fail200`` and ``liar`` answer without doing the call
(a liar answers a lookup or a deletion with one of ``LIAR_LOOKUPS`` / ``LIAR_DELETES``);
``hang`` sleeps ``hang_seconds`` and then does it; ``malformed`` does the call and truncates its
answer; ``drop`` does the call, starts the answer and closes the connection, which a client sees
as ``httpx.RemoteProtocolError`` both over a socket and through ``httpx.ASGITransport``.
Note that ``httpx.ASGITransport`` ignores client timeouts: in-process, a hang lasts the injected
sleep's ``hang_seconds``, so a test of timeouts injects a sleep or serves over a socket.
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from rightly.connectors.clevertap.regions import REGIONS
from rightly.emulator.accounts import Account, Passcode
from rightly.emulator.endpoints import (
    Reply,
    connect,
    delete_profiles,
    fail,
    invalid_credentials,
    lookup_profile,
    parse_json,
    too_many_requests,
    upload,
)
from rightly.emulator.faults import LIAR_DELETES, LIAR_LOOKUPS, FaultKind
from rightly.emulator.state import EmulatorState

# path -> (endpoint name in stats, HTTP method)
ROUTES: dict[str, tuple[str, str]] = {
    "/1/profile.json": ("profile", "GET"),
    "/1/delete/profiles.json": ("delete", "POST"),
    "/1/upload": ("upload", "POST"),
    "/v1/connect": ("connect", "GET"),
}
CLEVERTAP_HOST = "api.clevertap.com"
DEFAULT_HOST_REGION = "eu1"  # api.clevertap.com is Europe (clevertap-api.md §1)
STATS_PATH = "/_emulator/stats"


def route(scope: Scope) -> tuple[str | None, str]:
    """The region a request is for (None if neither prefix nor host names one) and the API path."""
    path: str = scope["path"]
    first, _, rest = path.lstrip("/").partition("/")
    if first in REGIONS:
        return first, "/" + rest
    host = ""
    for name, value in scope.get("headers", []):
        if name == b"host":
            host = value.decode("latin-1").rsplit(":", 1)[0].lower()
    if host == CLEVERTAP_HOST:
        return DEFAULT_HOST_REGION, path
    code, _, domain = host.partition(".")
    if domain == CLEVERTAP_HOST and code in REGIONS:
        return code, path
    return None, path


class EmulatorApp:
    """CleverTap's REST API over one ``EmulatorState``."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        response = await self._handle(Request(scope, receive), send)
        await response(scope, receive, send)

    async def _handle(self, request: Request, send: Send) -> Response:
        region, path = route(request.scope)
        if region is None:
            return self._service_page(request, path)
        spec = ROUTES.get(path)
        if spec is None:
            return _json(fail(404, "Not Found"))
        endpoint, method = spec
        if request.method != method:
            return _json(fail(405, "Method Not Allowed"))
        state = self.state
        pid = request.headers.get("x-clevertap-account-id", "")
        state.stats.calls[(pid, endpoint)] += 1
        account = state.accounts.get(pid)
        passcode = None
        if account is not None and account.region == region:
            passcode = account.passcode(request.headers.get("x-clevertap-passcode"))
        if account is None or passcode is None:
            return self._reply(pid, endpoint, invalid_credentials())
        account.run_due_deletions()
        if not state.limits.try_enter(account, endpoint, state.clock.now()):
            state.stats.throttled[(pid, endpoint)] += 1
            return self._reply(pid, endpoint, too_many_requests())
        try:
            return await self._admitted(request, send, account, passcode, endpoint)
        finally:
            state.limits.leave(account, endpoint)

    async def _admitted(
        self, request: Request, send: Send, account: Account, passcode: Passcode, endpoint: str
    ) -> Response:
        state, faults, rng = self.state, account.faults, account.random
        delay = faults.latency(rng)
        fault = faults.pick(rng)
        pid = account.project_id
        if delay > 0 and await self._client_left(request, delay):
            return self._abandoned(pid, endpoint)
        if fault is not None:
            state.stats.faults[(pid, fault.value)] += 1
        if fault is FaultKind.HANG and await self._client_left(request, faults.hang_seconds):
            return self._abandoned(pid, endpoint)
        if fault is FaultKind.ERROR_5XX:
            status = rng.choice((500, 503))
            return self._reply(pid, endpoint, fail(status, HTTPStatus(status).phrase))
        if fault is FaultKind.FAIL200:
            return self._reply(pid, endpoint, fail(200, "Internal Server Error", 500))
        if fault is FaultKind.LIAR and endpoint in ("profile", "delete"):
            answers = LIAR_LOOKUPS if endpoint == "profile" else LIAR_DELETES
            return self._reply(pid, endpoint, Reply(200, dict(rng.choice(answers))))
        reply = await self._perform(request, account, passcode, endpoint)
        if fault is FaultKind.DROP:
            await _drop(send)
        response = self._reply(pid, endpoint, reply)
        if fault is FaultKind.MALFORMED:
            body = reply.encode()
            return Response(body[: len(body) // 2], reply.status, media_type="application/json")
        return response

    async def _perform(self, request: Request, account: Account, passcode: Passcode, endpoint: str) -> Reply:
        now = self.state.clock.now()
        if endpoint == "profile":
            return lookup_profile(account, request.query_params)
        if endpoint == "connect":
            return connect()
        payload = parse_json(await request.body())
        if endpoint == "delete":
            return delete_profiles(account, passcode, payload, self.state.stats, now)
        return upload(account, payload, now)

    async def _client_left(self, request: Request, seconds: float) -> bool:
        """Wait ``seconds`` of simulated network time, unless the client goes away first (True).

        A client that gave up (a timeout) or died no longer has a request in flight: its slot is
        free at once, as at a server that notices the closed connection. Over ``httpx.ASGITransport``
        a disconnect only comes after the answer, so in-process the wait is always the full one."""
        await request.body()  # read (and keep) the body: what follows only listens for a disconnect
        sleeper = asyncio.ensure_future(self.state.sleep(seconds))
        gone = asyncio.ensure_future(_disconnect(request.receive))
        try:
            done, _ = await asyncio.wait({sleeper, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            gone.cancel()
        return gone in done and not gone.cancelled() and gone.result()

    def _abandoned(self, pid: str, endpoint: str) -> Response:
        self.state.stats.abandoned[(pid, endpoint)] += 1
        return Response(b"", 499)  # nobody reads it: the client is gone

    def _reply(self, pid: str, endpoint: str, reply: Reply) -> Response:
        self.state.stats.responses[(pid, endpoint, reply.status)] += 1
        return _json(reply)

    def _service_page(self, request: Request, path: str) -> Response:
        if request.method == "GET" and path == STATS_PATH:
            return _json(Reply(200, self.state.stats.to_json()))
        if request.method == "GET" and path in ("", "/"):
            info: dict[str, Any] = {
                "emulator": "CleverTap REST API",
                "regions": {code: f"/{code}" for code in REGIONS},
                "accounts": [
                    {"project_id": a.project_id, "region": a.region} for a in self.state.accounts.values()
                ],
            }
            return _json(Reply(200, info))
        return _json(fail(404, "Unknown region: use /<region>/... or <region>.api.clevertap.com"))


def create_emulator_app(state: EmulatorState) -> EmulatorApp:
    """The ASGI app for ``state``: serve it with uvicorn or hand it to ``httpx.ASGITransport``."""
    return EmulatorApp(state)


def _json(reply: Reply) -> Response:
    return Response(reply.encode(), reply.status, media_type="application/json")


async def _disconnect(receive: Receive) -> bool:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return True


class DroppedConnection(httpx.RemoteProtocolError):
    """A ``drop`` fault: what the client sees in-process; over a socket, uvicorn closes the connection."""


async def _drop(send: Send) -> None:
    """Start an answer, then abandon it: the server closes the connection mid-response."""
    headers = [(b"content-type", b"application/json"), (b"content-length", b"4096")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    raise DroppedConnection("Server disconnected without sending a complete response.")


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
