"""Sending a vendor call: a small request and answer of our own, and the clients that carry them.

Every CleverTap call goes through ``VendorHTTP.send``. ``AiohttpVendor`` is the client Rightly runs
with: its HTTP parser is compiled, so a call costs a fraction of the CPU httpx spends on one
(``docs/benchmark.md``). ``HttpxVendor`` carries the same calls over any ``httpx`` transport: the
emulator mounted in-process (``httpx.ASGITransport``) for the demo, the simulated-clock benchmark
and the tests. Both raise the same two errors, so nothing above this module knows which one runs.

A request's headers carry the passcode: ``VendorRequest`` never shows them in its repr, and the
errors name only the host.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote_plus, urlsplit

import httpx


@dataclass(frozen=True, slots=True)
class VendorRequest:
    method: str
    url: str  # absolute, query included and encoded
    headers: dict[str, str] = field(repr=False)
    endpoint: str  # method, path and query, as evidence shows the call (never a header)
    body: bytes | None = None

    @classmethod
    def get(cls, url: str, params: dict[str, str], headers: dict[str, str]) -> VendorRequest:
        query = "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in params.items())
        return cls("GET", f"{url}?{query}", headers, f"GET {_path(url)}?{query}")

    @classmethod
    def post_json(cls, url: str, payload: Any, headers: dict[str, str]) -> VendorRequest:
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {**headers, "Content-Type": "application/json; charset=utf-8"}
        return cls("POST", url, headers, f"POST {_path(url)}", body)

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "the vendor's host"


@functools.lru_cache(maxsize=256)
def _path(url: str) -> str:
    """The path of a query-less URL (a handful of distinct ones: one per project and endpoint)."""
    return urlsplit(url).path


@dataclass(frozen=True, slots=True)
class VendorResponse:
    status_code: int
    content: bytes
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case

    def json(self) -> Any:
        return json.loads(self.content)


class VendorError(Exception):
    """The call got no HTTP answer. The message names the host, never a header."""

    def __init__(self, host: str, what: str) -> None:
        super().__init__(f"{what} ({host})")
        self.host = host
        self.what = what


class VendorTimeout(VendorError):
    """No answer within the timeout (connecting, sending or reading)."""


class VendorUnreachable(VendorError):
    """No connection, or it broke before a whole answer arrived."""


class VendorHTTP(Protocol):
    async def send(self, request: VendorRequest, timeout: float) -> VendorResponse: ...

    async def aclose(self) -> None: ...


if TYPE_CHECKING:
    import aiohttp


class AiohttpVendor:
    """Vendor calls over aiohttp: keep-alive connections per host, no cookies, no redirects.
    aiohttp is imported on the first call: CLI commands that call no vendor start faster."""

    def __init__(self, max_connections: int = 100) -> None:
        self.max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        import aiohttp

        # Created on first use, inside the event loop that will use it.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.max_connections, ttl_dns_cache=300),
                cookie_jar=aiohttp.DummyCookieJar(),
                headers={"User-Agent": "rightly"},
            )
        return self._session

    async def send(self, request: VendorRequest, timeout: float) -> VendorResponse:
        import aiohttp
        import yarl

        try:
            async with self._client().request(
                request.method,
                yarl.URL(request.url, encoded=True),  # built encoded: no second pass over it
                headers=request.headers,
                data=request.body,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as answer:
                content = await answer.read()
                headers = {k.lower(): v for k, v in answer.headers.items()}
                return VendorResponse(answer.status, content, headers)
        except TimeoutError:
            raise VendorTimeout(request.host, f"no answer within {timeout:g} s") from None
        except aiohttp.ClientError as exc:
            raise VendorUnreachable(request.host, type(exc).__name__) from None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


class HttpxVendor:
    """Vendor calls over an ``httpx.AsyncClient`` (any transport: a socket, ASGI, a mock)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def send(self, request: VendorRequest, timeout: float) -> VendorResponse:
        req = self.client.build_request(
            request.method, request.url, headers=request.headers, content=request.body, timeout=timeout
        )
        try:
            answer = await self.client.send(req)
        except httpx.TimeoutException:
            raise VendorTimeout(request.host, f"no answer within {timeout:g} s") from None
        except httpx.TransportError as exc:
            raise VendorUnreachable(request.host, type(exc).__name__) from None
        headers = {k.lower(): v for k, v in answer.headers.items()}
        return VendorResponse(answer.status_code, answer.content, headers)

    async def aclose(self) -> None:
        await self.client.aclose()


def vendor_http(client: VendorHTTP | httpx.AsyncClient | None = None) -> VendorHTTP:
    """The vendor client to use: the one given (an httpx client is wrapped), else aiohttp's."""
    if client is None:
        return AiohttpVendor()
    if isinstance(client, httpx.AsyncClient):
        return HttpxVendor(client)
    return client
