"""What every HTTP request passes before any route sees it (the API and the web UI alike): a body
of at most ``MAX_BODY_BYTES``, and no input a database cannot hold.

A NUL character (``%00`` in a path or query, ``\\u0000`` in JSON, in a form field) or a lone
surrogate (``\\ud800`` in JSON) in anything a route could store or look up is refused with 422 and
a message naming where it was, before a handler runs: PostgreSQL would refuse it deep inside a
transaction (a 500, and the audit entry of the failure lost with it), SQLite would keep it. A JSON
body nested too deeply for the parser is refused the same way. Lengths are each field's own bound
(the route's schema, the service); this guard only knows what no field may hold.

Written by hand: Starlette has no such guard, and a per-field validator everywhere would miss the
one field added later. The composition root installs it with a ``refuse`` that answers in the
face's own form (JSON for the API, an error page for a browser).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rightly.domain.text import unstorable

MAX_BODY_BYTES = 64 * 1024

# (scope, HTTP status, message, field) -> the answer
Refuse = Callable[[Scope, int, str, str | None], Awaitable[Response]]


class InputGuard:
    """ASGI middleware: refuse oversized bodies (413) and unstorable input (422)."""

    def __init__(self, app: ASGIApp, refuse: Refuse, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.refuse = refuse
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await self._answer(
                scope, receive, send, 413, f"the request body is larger than {self.limit // 1024} KiB"
            )
            return
        body = b""
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.limit:
                await self._answer(
                    scope, receive, send, 413, f"the request body is larger than {self.limit // 1024} KiB"
                )
                return
        problem = find_unstorable(scope, headers.get(b"content-type", b""), body)
        if problem is not None:
            field, why = problem
            await self._answer(scope, receive, send, 422, f"{field} {why}", field)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _answer(
        self, scope: Scope, receive: Receive, send: Send, status: int, message: str, field: str | None = None
    ) -> None:
        response = await self.refuse(scope, status, message, field)
        await response(scope, receive, send)


def find_unstorable(scope: Scope, content_type: bytes, body: bytes) -> tuple[str, str] | None:
    """(where, why) for the first input no database can hold, or None."""
    path = scope.get("path", "")
    if (why := unstorable(path)) is not None:
        return "the path", why
    query = scope.get("query_string", b"").decode("latin-1")
    for key, value in parse_qsl(query, keep_blank_values=True):
        for text in (key, value):
            if (why := unstorable(text)) is not None:
                return f"the query parameter {_name(key)!r}", why
    kind = content_type.split(b";", 1)[0].strip().lower()
    if not body:
        return None
    if kind == b"application/json" or kind.endswith(b"+json"):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return "the JSON body", "is not UTF-8 text (RFC 8259)"
        try:
            data = json.loads(text)
        except RecursionError:
            return "the JSON body", "is nested too deeply"
        except ValueError:
            return None  # not JSON at all: the route's own parser says so (422)
        return _walk(data, "body")
    if kind == b"application/x-www-form-urlencoded":
        for key, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True, encoding="utf-8"):
            for text in (key, value):
                if (why := unstorable(text)) is not None:
                    return f"the form field {_name(key)!r}", why
    return None


def _walk(data: Any, root: str) -> tuple[str, str] | None:
    """The first unstorable string (key or value) in a parsed JSON body; iterative, however deep."""
    stack: list[tuple[Any, str]] = [(data, root)]
    while stack:
        value, where = stack.pop()
        if isinstance(value, str):
            if (why := unstorable(value)) is not None:
                return where, why
        elif isinstance(value, dict):
            for key, item in reversed(list(value.items())):
                name = f"{where}.{_name(key)}"
                if (why := unstorable(key)) is not None:
                    return name, why
                stack.append((item, name))
        elif isinstance(value, list):
            stack.extend((item, f"{where}[{i}]") for i, item in reversed(list(enumerate(value))))
    return None


def _name(key: str) -> str:
    """A field name fit to show back: what cannot be shown replaced, and short."""
    return "".join("?" if ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF else c for c in key)[:60]
