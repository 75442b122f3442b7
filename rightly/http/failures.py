"""Why a vendor call got no answer, in words a privacy team can act on.

httpx's exceptions carry text from the network and the request: a resolver's message, a proxy's
reason phrase, the first bytes of a garbled answer. Whatever Rightly shows or stores about a failed
call must carry none of it (an answer may echo a header, and the passcode travels in one), so
``describe`` decides by the exception's type and its causes. It reads a message only to tell apart
cases httpx gives one type (a proxy's status code; h11's "peer closed connection"), and never
returns any of it.
"""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Iterator

import httpx

_STATUS = re.compile(r"\d{3}")


def describe(exc: httpx.RequestError) -> str:
    """Why ``exc`` (any error httpx raises for a sent request, but a timeout) left the call
    without an answer."""
    causes = list(_chain(exc))
    for cause in causes:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return "its TLS certificate is not trusted"
        if isinstance(cause, ssl.SSLError):
            return f"TLS failed ({type(cause).__name__})"
        if isinstance(cause, socket.gaierror):
            return "host name not found"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, ConnectionResetError):
            return "connection reset"
    if isinstance(exc, httpx.ProxyError):
        code = _STATUS.match(str(exc))  # httpcore's message: "<status> <the proxy's reason phrase>"
        return f"the proxy refused the tunnel (HTTP {code.group() if code else '?'})"
    if isinstance(exc, httpx.DecodingError):  # a Content-Encoding its body does not match
        return "an answer that could not be decoded"
    if isinstance(exc, httpx.UnsupportedProtocol):
        return "not an http(s) URL"
    if isinstance(exc, httpx.RemoteProtocolError):
        return _protocol_error(causes)
    if isinstance(exc, httpx.ConnectError):
        return "could not connect"
    return f"the connection failed ({type(exc).__name__})"


def _protocol_error(causes: list[BaseException]) -> str:
    parsed = next((c for c in causes if type(c).__module__.startswith("h11")), None)
    if parsed is None:  # httpcore's own: the server closed the connection before any answer
        return "the connection closed before an answer"
    if str(parsed).startswith("peer closed connection"):
        return "the connection closed before the whole answer arrived"
    if str(parsed) == "Receive buffer too long":  # h11 holds at most 100 KiB of unparsed headers
        return "answer headers too large"
    return "not an HTTP answer"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it was raised from (httpx -> httpcore -> anyio -> the OSError), once each."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__
