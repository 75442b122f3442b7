"""Security headers on every answer, pages, API and static files alike.

The pages load only Rightly's own stylesheet and script (``/static``) and no inline script or style,
so the Content-Security-Policy allows exactly that: nothing from elsewhere, no inline code, no
framing, forms posting only to Rightly. The one page that needs more is the API's interactive
documentation (``/docs``, Swagger UI from its CDN, started by one inline script): its policy names
that CDN and the inline script's own SHA-256, computed from the page as served, so nothing else
inline can run there either. Over HTTPS, Strict-Transport-Security tells browsers to stay on it.

Written by hand: a dozen lines of ASGI; the packages that do this (secure, starlette-csp) add
little and would not compute the docs page's script hash.
"""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
DOCS_CDN = "https://cdn.jsdelivr.net"
HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)


def docs_policy(html: bytes) -> str:
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
    )
    return (
        f"default-src 'none'; script-src {DOCS_CDN} {hashes}; style-src {DOCS_CDN}; "
        f"img-src 'self' data: https://fastapi.tiangolo.com; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )


class SecurityHeaders:
    """ASGI middleware: add the security headers to every HTTP answer (keeping any a route set)."""

    def __init__(self, app: ASGIApp, docs_path: str | None = "/docs") -> None:
        self.app = app
        self.docs_path = docs_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope.get("path") == self.docs_path
        https = scope.get("scheme") == "https"
        start: Message | None = None
        body = b""

        async def send_with_headers(message: Message) -> None:
            nonlocal start, body
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    if name not in headers:
                        headers[name] = value
                if https:
                    headers.setdefault("strict-transport-security", "max-age=31536000")
                if scope.get("path", "").startswith("/api/"):
                    headers.setdefault("cache-control", "no-store")
                if not docs:
                    headers.setdefault("content-security-policy", POLICY)
                    await send(message)
                    return
                start = message  # the docs page: its policy needs its body's inline script
                return
            if docs and start is not None and message["type"] == "http.response.body":
                body += message.get("body", b"")
                if message.get("more_body", False):
                    return
                MutableHeaders(scope=start)["content-security-policy"] = docs_policy(body)
                await send(start)
                await send({"type": "http.response.body", "body": body, "more_body": False})
                return
            await send(message)

        await self.app(scope, receive, send_with_headers)
