"""Sending one webhook message (Standard Webhooks, https://www.standardwebhooks.com/).

A message is POSTed as JSON with three headers: ``webhook-id`` (the message id, the same on every
attempt, for the receiver to drop duplicates), ``webhook-timestamp`` (the attempt's time, Unix
seconds) and ``webhook-signature`` (``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body`` under the
endpoint's ``whsec_`` secret). The signature is made by the ``standardwebhooks`` package.

What an endpoint may be (``check_url``), since super admins type it and Rightly's workers call it:
an absolute ``http`` or ``https`` URL with a host, no user name or password in it, no fragment, at
most 2,000 characters of printable ASCII. Any host is allowed, private addresses included (a
ticketing system on the company network is a common receiver): only super admins can add one. The
call follows no redirect (a 3xx answer is a failure), and nothing of the answer but its status code
is read or kept, so an endpoint cannot be used to read another internal service's pages.
The vendor call budget does not apply: webhooks have a client of their own.
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
from standardwebhooks import Webhook

from rightly.http.failures import describe

TIMEOUT = 10.0
MAX_URL = 2000
SECRET_PREFIX = "whsec_"


def check_url(url: str) -> str:
    """The URL as it will be called, or ValueError saying what is wrong with it."""
    url = url.strip()
    if not url:
        raise ValueError("give the URL to deliver to")
    if len(url) > MAX_URL:
        raise ValueError(f"the URL is longer than {MAX_URL} characters")
    if any(not (32 < ord(c) < 127) for c in url):
        raise ValueError("the URL may hold printable ASCII only (no spaces: percent-encode them)")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"not a URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError("the URL must start with https:// (or http://)")
    if not parts.hostname:
        raise ValueError("the URL has no host")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ValueError("the URL may not hold a user name or password: the signature authenticates Rightly")
    if parts.fragment or url.endswith("#"):
        raise ValueError("the URL may not have a #fragment")
    if port == 0:
        raise ValueError("the URL's port is not valid")
    return url


def new_secret() -> str:
    """A Standard Webhooks signing secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signature_headers(secret: str, message_id: str, timestamp: float, body: str) -> dict[str, str]:
    at = datetime.fromtimestamp(int(timestamp), UTC)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp)),
        "webhook-signature": Webhook(secret).sign(message_id, at, body),
    }


@dataclass(frozen=True)
class Delivery:
    ok: bool
    status_code: int | None
    duration_ms: int
    error: str | None  # why it failed, in words (never the answer's content)


class WebhookSender:
    """POSTs messages over one ``httpx.AsyncClient`` (made here unless given, e.g. in tests)."""

    def __init__(self, client: httpx.AsyncClient | None = None) -> None:
        self._own = client is None
        self.client = client or httpx.AsyncClient(
            timeout=TIMEOUT,
            follow_redirects=False,
            trust_env=True,
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=10),
            headers={"User-Agent": "rightly-webhooks", "Accept-Encoding": "identity"},
        )

    async def send(self, url: str, secret: str, message_id: str, timestamp: float, body: str) -> Delivery:
        headers = {
            "Content-Type": "application/json",
            **signature_headers(secret, message_id, timestamp, body),
        }
        started = time.perf_counter()
        try:
            request = self.client.build_request("POST", url, content=body.encode(), headers=headers)
            response = await self.client.send(request, stream=True)
            await response.aclose()  # the body is never read: only the status counts
        except httpx.TimeoutException:
            return Delivery(False, None, _ms(started), f"no answer within {TIMEOUT:.0f} s")
        except httpx.RequestError as exc:
            return Delivery(False, None, _ms(started), describe(exc))
        code = response.status_code
        if 200 <= code < 300:
            return Delivery(True, code, _ms(started), None)
        if 300 <= code < 400:
            return Delivery(
                False, code, _ms(started), f"redirected (HTTP {code}): webhooks follow no redirect"
            )
        return Delivery(False, code, _ms(started), f"answered HTTP {code}")

    async def aclose(self) -> None:
        if self._own:
            await self.client.aclose()


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
