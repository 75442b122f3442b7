"""Sending a vendor call: a small request and answer of our own, and the clients that carry them.

Every CleverTap call goes through ``VendorHTTP.send``. ``rightly.http.h1.H1Vendor`` is the client
Rightly runs with: plain HTTP/1.1 with keep-alive and a compiled parser, at a fraction of the CPU a
general-purpose client spends on a call (``docs/benchmark.md``). ``HttpxVendor`` carries the same
calls over any ``httpx`` transport: the emulator mounted in-process (``httpx.ASGITransport``) for
the demo, the simulated-clock benchmark and the tests. Both raise the same two errors, so nothing
above this module knows which one runs.

A request's headers carry the passcode: ``VendorRequest`` never shows them in its repr, and the
errors name only the host.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any, Protocol
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
