"""Vendor calls over HTTP/1.1: kept-alive connections on asyncio's transports, parsed by httptools.

Rightly's calls are few and plain: a GET or a small JSON POST to one host per region, answered
with a small JSON body. A general-purpose client spends most of a call's CPU on what these calls
never use (cookies, redirects, tracing hooks, multipart, proxies, its own timers and URL objects);
this one builds the request bytes, writes them, and feeds the answer to llhttp (the parser Node.js
uses, through httptools, as uvicorn does). ``docs/benchmark.md`` has the figures.

What it does, and what it refuses:
* Connections are kept alive per host and reused; one idle longer than ``idle_seconds``, or one
  the server closed, is not. A reused connection that breaks before the first byte of an answer
  (the server closed it as we wrote) is retried once on a new one: the vendor never saw the call.
* Bodies framed by Content-Length, by chunks, or by the end of the connection; an answer larger
  than ``max_body``, or with more than 64 KiB of headers, is refused. No redirects are followed and no compression is asked for.
* ``timeout`` bounds the whole call: connecting, TLS, writing and reading.
* A forward proxy from the environment, as curl and most HTTP clients read it: ``HTTPS_PROXY`` /
  ``HTTP_PROXY`` (an ``http://`` proxy, credentials in its URL allowed) and ``NO_PROXY``; this
  machine itself (localhost) is always reached directly. HTTPS goes through a CONNECT tunnel (the
  proxy sees only the host name); plain HTTP is sent to the proxy.
* A header that would split the request (a CR or LF, say in a pasted passcode) is refused before
  anything is sent.
Errors are ``VendorTimeout`` and ``VendorUnreachable``, which name the host and never a header.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import logging
import socket
import ssl
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast
from urllib.parse import unquote, urlsplit

import httptools

from rightly.http.vendor import VendorRequest, VendorResponse, VendorTimeout, VendorUnreachable

log = logging.getLogger(__name__)

MAX_BODY = 32 * 2**20
MAX_HEAD = 64 * 2**10  # an answer's status line and headers
IDLE_SECONDS = 15.0  # below the keep-alive timeouts servers commonly use (60 s and more)


class _Broken(Exception):
    """The connection failed; ``answered`` says whether any byte of the answer had arrived."""

    def __init__(self, what: str, answered: bool) -> None:
        super().__init__(what)
        self.what = what
        self.answered = answered


class _Stale(Exception):
    """A kept-alive connection broke before any answer: the server had closed it. Try a new one."""


@dataclass(frozen=True, slots=True)
class _Origin:
    """Where a base URL (the part before '?') points, parsed once."""

    key: tuple[str, str, int]
    host: str
    port: int
    tls: bool
    path: str
    host_header: str


@dataclass(frozen=True, slots=True)
class _Proxy:
    host: str
    port: int
    authorization: str | None  # a Proxy-Authorization header value: never shown

    def __repr__(self) -> str:
        return f"_Proxy({self.host}:{self.port})"

    @classmethod
    def parse(cls, url: str) -> _Proxy:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(
                f"only http:// forward proxies are supported, not {parts.scheme}://{parts.hostname}"
            )
        auth = None
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            auth = "Basic " + base64.b64encode(pair.encode()).decode()
        return cls(parts.hostname, parts.port or 80, auth)


def environment_proxies() -> dict[str, str]:
    """The proxies the environment names (``HTTPS_PROXY``, ``HTTP_PROXY``, ``NO_PROXY``, any case)."""
    return urllib.request.getproxies_environment()


@functools.lru_cache(maxsize=256)
def _origin(base: str) -> _Origin:
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {parts.scheme}://{parts.hostname or ''}")
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    host = parts.hostname
    shown = f"[{host}]" if ":" in host else host
    host_header = shown if port == (443 if tls else 80) else f"{shown}:{port}"
    return _Origin((parts.scheme, host, port), host, port, tls, parts.path or "/", host_header)


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection; one exchange at a time."""

    def __init__(self, max_body: int) -> None:
        self.max_body = max_body
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.idle_since = 0.0
        self._answer: asyncio.Future[VendorResponse] | None = None
        self._tunnel: asyncio.Future[bytes] | None = None  # a proxy's answer to CONNECT, while awaited
        self._tunnel_head = b""
        self._reset()

    def _reset(self) -> None:
        self._status = 0
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._size = 0
        self._head_size = 0  # bytes received while the headers were still unfinished
        self._header_size = 0  # bytes of the headers parsed
        self._received = False
        self._framed = False  # Content-Length or chunked: the end of the connection is not the end
        self._headers_done = False
        self._complete = False

    # -- the exchange ---------------------------------------------------------------------------

    def exchange(self, data: bytes) -> asyncio.Future[VendorResponse]:
        assert self.transport is not None and self._answer is None
        self._reset()
        self._answer = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self._answer

    def done(self) -> None:
        self._answer = None

    def is_closing(self) -> bool:
        return self.transport is None or self.transport.is_closing()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _settle(self, result: VendorResponse | BaseException) -> None:
        answer = self._answer
        if answer is None or answer.done():
            return
        if isinstance(result, BaseException):
            answer.set_exception(result)
        else:
            answer.set_result(result)

    # -- asyncio.Protocol -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio's subclasses

    def tunnel(self, request: bytes) -> asyncio.Future[bytes]:
        """Send a CONNECT; the future holds the proxy's answer up to its blank line."""
        assert self.transport is not None
        self._tunnel = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self._tunnel

    def data_received(self, data: bytes) -> None:
        if self._tunnel is not None:
            self._tunnel_head += data
            if b"\r\n\r\n" in self._tunnel_head or len(self._tunnel_head) > 16384:
                tunnel, head = self._tunnel, self._tunnel_head
                self._tunnel, self._tunnel_head = None, b""
                if not tunnel.done():
                    tunnel.set_result(head)
            return
        if self._answer is None:  # nothing was asked: the connection cannot be trusted any more
            self.close()
            return
        self._received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self._settle(_Broken("not an HTTP answer", answered=True))
            self.close()
            return
        if not self._headers_done:  # all of it was status line and headers, still unfinished
            self._head_size += len(data)
            if self._head_size > MAX_HEAD:
                self._refuse_head()

    def _refuse_head(self) -> None:
        self._settle(_Broken(f"answer headers larger than {MAX_HEAD // 2**10} KiB", answered=True))
        self.close()

    def eof_received(self) -> bool | None:
        self.closed = True  # not to be taken from the pool again, even before connection_lost
        return None  # close the transport; connection_lost finishes the answer

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._tunnel is not None and not self._tunnel.done():
            self._tunnel.set_exception(_Broken("the proxy closed the connection", answered=False))
        if self._answer is None:
            return
        if self._headers_done and not self._framed:
            self._finish(keep_alive=False)  # the body ran until the server closed the connection
        else:
            self._settle(_Broken(_describe(exc) if exc else "connection closed", self._received))

    # -- httptools' callbacks -------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._complete:  # bytes after the answer, unasked: the connection is not to be reused
            self.close()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_size += len(name) + len(value)
        if self._header_size > MAX_HEAD:  # (the parser hands over whole headers, however long)
            self._refuse_head()
            return
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self._status = self.parser.get_status_code()
        self._headers_done = True
        self._framed = (
            "content-length" in self._headers
            or "chunked" in self._headers.get("transfer-encoding", "").lower()
            or self._status in (204, 304)
        )

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > self.max_body:
            self._settle(_Broken(f"answer larger than {self.max_body // 2**20} MiB", answered=True))
            self.close()
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        if 100 <= self._status < 200:  # an interim answer: the real one follows
            self._reset()
            self._received = True
            return
        self._finish(keep_alive=self.parser.should_keep_alive())

    def _finish(self, keep_alive: bool) -> None:
        self._complete = True
        if not keep_alive:
            self.close()
        self._settle(VendorResponse(self._status, b"".join(self._body), self._headers))


class H1Vendor:
    """Rightly's vendor client: HTTP/1.1 with keep-alive, one pool of idle connections per origin."""

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        max_idle_per_origin: int = 32,
        idle_seconds: float = IDLE_SECONDS,
        max_body: int = MAX_BODY,
        user_agent: str = "rightly",
        proxies: Mapping[str, str] | None = None,
    ) -> None:
        """``proxies``: {"https": url, "http": url, "no": hosts}, by default from the environment."""
        self._proxy_settings = dict(environment_proxies() if proxies is None else proxies)
        self._proxies: dict[str, _Proxy] = {}
        for scheme in ("http", "https"):
            if url := self._proxy_settings.get(scheme):
                try:
                    self._proxies[scheme] = _Proxy.parse(url)
                except ValueError as exc:
                    log.warning("%s_proxy ignored: %s", scheme, exc)
        self._ssl = ssl_context
        self.max_idle_per_origin = max_idle_per_origin
        self.idle_seconds = idle_seconds
        self.max_body = max_body
        self._agent = f"User-Agent: {user_agent}\r\n"
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}

    async def send(self, request: VendorRequest, timeout: float) -> VendorResponse:
        base, _, query = request.url.partition("?")
        origin = _origin(base)
        target = f"{origin.path}?{query}" if query else origin.path
        proxy = self._proxy_for(origin)
        if proxy is not None and not origin.tls:  # plain HTTP: the proxy takes the whole URL
            data = self._encode(request, origin, f"http://{origin.host_header}{target}", proxy.authorization)
        else:
            data = self._encode(request, origin, target)
        try:
            async with asyncio.timeout(timeout):
                try:
                    return await self._exchange(origin, proxy, data, reuse=True)
                except _Stale:
                    return await self._exchange(origin, proxy, data, reuse=False)
        except TimeoutError:
            raise VendorTimeout(origin.host, f"no answer within {timeout:g} s") from None
        except _Broken as broken:
            raise VendorUnreachable(origin.host, broken.what) from None

    async def _exchange(
        self, origin: _Origin, proxy: _Proxy | None, data: bytes, *, reuse: bool
    ) -> VendorResponse:
        conn = self._take_idle(origin) if reuse else None
        reused = conn is not None
        if conn is None:
            conn = await (self._open(origin) if proxy is None else self._open_via(proxy, origin))
        try:
            answer = await conn.exchange(data)
        except _Broken as broken:
            conn.close()
            if reused and not broken.answered:
                raise _Stale() from None
            raise
        except BaseException:  # timed out or cancelled mid-answer: the connection is in an unknown state
            conn.close()
            raise
        conn.done()
        self._put_idle(origin, conn)
        return answer

    async def _open(self, origin: _Origin) -> _Connection:
        """A direct connection to the origin."""
        try:
            _, conn = await asyncio.get_running_loop().create_connection(
                lambda: _Connection(self.max_body),
                origin.host,
                origin.port,
                ssl=self._ssl_context() if origin.tls else None,
                server_hostname=origin.host if origin.tls else None,
            )
        except OSError as exc:  # refused, unresolvable, TLS refused or unverifiable
            raise _Broken(_describe(exc), answered=False) from None
        return conn

    async def _open_via(self, proxy: _Proxy, origin: _Origin) -> _Connection:
        """A connection through the proxy: for HTTPS, a CONNECT tunnel with TLS to the origin inside."""
        loop = asyncio.get_running_loop()
        named = f"proxy {proxy.host}:{proxy.port}"
        try:
            _, conn = await loop.create_connection(lambda: _Connection(self.max_body), proxy.host, proxy.port)
        except OSError as exc:
            raise _Broken(f"{named} unreachable: {_describe(exc)}", answered=False) from None
        if not origin.tls:
            return conn
        try:
            authority = (
                f"[{origin.host}]:{origin.port}" if ":" in origin.host else f"{origin.host}:{origin.port}"
            )
            lines = [f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n"]
            if proxy.authorization:
                lines.append(f"Proxy-Authorization: {proxy.authorization}\r\n")
            head = await conn.tunnel(("".join(lines) + "\r\n").encode())
            status = head.split(b"\r\n", 1)[0].split(b" ")
            if len(status) < 2 or status[1] != b"200":
                code = status[1].decode("latin-1", "replace")[:3] if len(status) > 1 else "?"
                raise _Broken(f"{named} refused the tunnel (HTTP {code})", answered=False)
            assert conn.transport is not None
            try:
                tls = await loop.start_tls(
                    conn.transport, conn, self._ssl_context(), server_hostname=origin.host
                )
            except OSError as exc:  # the origin's certificate, through the tunnel
                raise _Broken(_describe(exc), answered=False) from None
            if tls is None:
                raise _Broken("TLS through the proxy failed", answered=False)
            conn.transport = cast(asyncio.Transport, tls)
        except BaseException:
            conn.close()
            raise
        return conn

    def _proxy_for(self, origin: _Origin) -> _Proxy | None:
        proxy = self._proxies.get("https" if origin.tls else "http")
        if proxy is None or _loopback(origin.host):  # as Go's clients do: this machine is never proxied
            return None
        if _bypassed(origin.host, origin.port, self._proxy_settings.get("no", "")):
            return None
        return proxy

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()  # the system's CAs; built once, on first use
        return self._ssl

    def _take_idle(self, origin: _Origin) -> _Connection | None:
        idle = self._idle.get(origin.key)
        if not idle:
            return None
        oldest_usable = asyncio.get_running_loop().time() - self.idle_seconds
        while idle:
            conn = idle.pop()
            if not conn.closed and conn.idle_since >= oldest_usable and not conn.is_closing():
                return conn
            conn.close()
        return None

    def _put_idle(self, origin: _Origin, conn: _Connection) -> None:
        if conn.closed:
            return
        idle = self._idle.setdefault(origin.key, [])
        if len(idle) >= self.max_idle_per_origin:
            conn.close()
            return
        conn.idle_since = asyncio.get_running_loop().time()
        idle.append(conn)

    def _encode(
        self, request: VendorRequest, origin: _Origin, target: str, proxy_authorization: str | None = None
    ) -> bytes:
        lines = [f"{request.method} {target} HTTP/1.1\r\nHost: {origin.host_header}\r\n", self._agent]
        if proxy_authorization:
            lines.append(f"Proxy-Authorization: {proxy_authorization}\r\n")
        for name, value in request.headers.items():
            if _splits(name) or _splits(value):  # input validation keeps these out; never send one
                raise ValueError(f"the {_printable(name)} header holds a line break; the call was not sent")
            lines.append(f"{name}: {value}\r\n")
        body = request.body
        if body is not None or request.method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body or b'')}\r\n")
        lines.append("\r\n")
        head = "".join(lines).encode()
        return head + body if body else head

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()


def _describe(exc: BaseException) -> str:
    """What went wrong with a connection, in words (never the exception's text: it may quote data)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "its TLS certificate is not trusted (SSLCertVerificationError)"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed ({type(exc).__name__})"
    if isinstance(exc, socket.gaierror):
        return "host name not found (gaierror)"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (ConnectionRefusedError)"
    if isinstance(exc, ConnectionResetError):
        return "connection reset (ConnectionResetError)"
    return type(exc).__name__


def _loopback(host: str) -> bool:
    return host == "localhost" or host.startswith("127.") or host == "::1"


def _bypassed(host: str, port: int, no_proxy: str) -> bool:
    """NO_PROXY as curl reads it: ``*``, or host names and domains (``example.com`` also covers
    ``api.example.com``; a leading dot is optional), each optionally with a port."""
    host = host.lower()
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if entry == "*":
            return True
        name, _, entry_port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        if entry_port and entry_port != str(port):
            continue
        name = name.lstrip(".").strip("[]")
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


def _splits(text: str) -> bool:
    return "\r" in text or "\n" in text


def _printable(name: str) -> str:
    return name.replace("\r", "\\r").replace("\n", "\\n")
