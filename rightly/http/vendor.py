"""Sending a vendor call: a small request and answer of our own, and the one client that carries them.

Every CleverTap call goes through ``VendorHTTP.send``. ``HttpxVendor`` is that client: one
``httpx.AsyncClient`` per process (``HttpxVendor.default()``, built by ``vendor_client``) that keeps
connections alive, verifies TLS, takes its proxy from the environment and follows no redirect. Tests
and the demo hand it a client whose transport is the emulator mounted in-process.

What ``send`` guarantees, whatever the transport:
* ``timeout`` bounds the whole call (connecting, TLS, writing and reading), not each step of it;
* an answer larger than ``MAX_BODY`` is refused, declared or streamed, so a vendor sending garbage
  cannot exhaust memory;
* a header holding a CR or LF (a pasted passcode, say) is refused before anything is sent;
* a failure is ``VendorTimeout`` or ``VendorUnreachable``, said in words (``rightly.http.failures``)
  that name the host and never a header or the exception's text.

A request's headers carry the passcode: ``VendorRequest`` never shows them in its repr.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import ssl
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote_plus, urlsplit

import httpx

from rightly.http.failures import describe

MAX_BODY = 32 * 2**20
# Below the keep-alive timeouts servers commonly use (60 s and more), so a kept-alive connection is
# retired by us before the server closes it under a request.
KEEPALIVE_SECONDS = 15.0


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


def vendor_client(timeout: float = 20.0, *, ssl_context: ssl.SSLContext | None = None) -> httpx.AsyncClient:
    """The process's client for vendor calls.

    HTTP/1.1 with kept-alive connections; TLS verified against certifi's CAs (or ``SSL_CERT_FILE``
    / ``SSL_CERT_DIR``), or against ``ssl_context`` when one is given; a forward proxy from
    ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY`` with hosts in ``NO_PROXY`` reached directly,
    as httpx reads them (this machine is proxied too unless ``NO_PROXY`` names it); no redirects.
    """
    quiet_libraries()
    return httpx.AsyncClient(
        timeout=timeout,
        # Calls in flight are bounded by the budget (a few per account); the pool only caps a
        # process with many accounts, and a call waiting for a connection counts against its timeout.
        limits=httpx.Limits(
            max_connections=100, max_keepalive_connections=32, keepalive_expiry=KEEPALIVE_SECONDS
        ),
        verify=ssl_context or True,
        trust_env=True,
        follow_redirects=False,
        # No compression: CleverTap's answers are small JSON, and an answer's size is then what
        # arrives rather than what a few kilobytes of gzip could unpack into.
        headers={"User-Agent": "rightly", "Accept-Encoding": "identity"},
    )


def quiet_libraries() -> None:
    """httpx logs every request's URL at INFO (a lookup's URL holds the subject's email) and
    httpcore logs what the network sent at DEBUG (a server may echo the passcode): keep both out of
    Rightly's log, whichever client carries the calls, unless someone configured them on purpose."""
    for name in ("httpx", "httpcore"):
        library_log = logging.getLogger(name)
        if library_log.level == logging.NOTSET:
            library_log.setLevel(logging.WARNING)


class HttpxVendor:
    """Vendor calls over an ``httpx.AsyncClient`` (any transport: a socket, ASGI, a mock)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        quiet_libraries()
        self.client = client

    @classmethod
    def default(cls, timeout: float = 20.0, *, ssl_context: ssl.SSLContext | None = None) -> HttpxVendor:
        """Over ``vendor_client``; ``aclose`` closes it."""
        return cls(vendor_client(timeout, ssl_context=ssl_context))

    async def send(self, request: VendorRequest, timeout: float) -> VendorResponse:
        for name, value in request.headers.items():
            if _splits(name) or _splits(value):  # input validation keeps these out; never send one
                raise ValueError(f"the {_printable(name)} header holds a line break; the call was not sent")
        req = self.client.build_request(
            request.method, request.url, headers=request.headers, content=request.body, timeout=timeout
        )
        try:
            # httpx's timeout bounds each read; this bounds the call, so a trickle cannot outlast it.
            async with asyncio.timeout(timeout):
                answer = await self.client.send(req, stream=True)
                try:
                    content = await _read(answer, request.host)
                finally:
                    await answer.aclose()
        except (TimeoutError, httpx.TimeoutException):
            raise VendorTimeout(request.host, f"no answer within {timeout:g} s") from None
        except httpx.RequestError as exc:
            raise VendorUnreachable(request.host, describe(exc)) from None
        headers = {k.lower(): v for k, v in answer.headers.items()}
        return VendorResponse(answer.status_code, content, headers)

    async def aclose(self) -> None:
        await self.client.aclose()


async def _read(answer: httpx.Response, host: str) -> bytes:
    """The whole body, refused as soon as it is known to exceed ``MAX_BODY``."""
    declared = answer.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise _too_large(host)
    body = bytearray()
    async for chunk in answer.aiter_bytes():
        body += chunk
        if len(body) > MAX_BODY:
            raise _too_large(host)
    return bytes(body)


def _too_large(host: str) -> VendorUnreachable:
    return VendorUnreachable(host, f"answer larger than {MAX_BODY // 2**20} MiB")


def _splits(text: str) -> bool:
    return "\r" in text or "\n" in text


def _printable(name: str) -> str:
    return name.replace("\r", "\\r").replace("\n", "\\n")
