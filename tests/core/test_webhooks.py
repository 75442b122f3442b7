"""Webhooks delivered to a real HTTP receiver on this machine, which checks every delivery's
signature with the Standard Webhooks algorithm (written out here, not the library Rightly signs
with): a failed attempt is retried with the same message id, every attempt is logged with its
status, payloads carry ids only, and an endpoint failing for days is disabled and gets nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from rightly.engine.worker import Worker
from rightly.services import webhooks
from rightly.services.errors import InvalidInput
from rightly.services.runtime import Runtime
from tests.core.helpers import ACTOR, connect, submit, worker


@dataclass
class Receiver:
    """Answers 500 to the first delivery of each message (or to every one), 200 afterwards."""

    secret: str = ""
    always_fail: bool = False
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def check(self, headers: dict[str, str], body: bytes) -> bool:
        key = base64.b64decode(self.secret.removeprefix("whsec_"))
        signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        given = [s.split(",", 1) for s in headers["webhook-signature"].split(" ")]
        return any(v == "v1" and hmac.compare_digest(sig, expected) for v, sig in given)

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        seen = [d for d in self.deliveries if d["id"] == headers.get("webhook-id")]
        self.deliveries.append(
            {
                "id": headers.get("webhook-id"),
                "timestamp": headers.get("webhook-timestamp"),
                "signature_ok": self.check(headers, body),
                "body": json.loads(body),
                "raw": body,
            }
        )
        return 500 if self.always_fail or not seen else 200


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    good, bad = Receiver(), Receiver(always_fail=True)
    servers = []
    for receiver in (good, bad):

        class Handler(BaseHTTPRequestHandler):
            target = receiver

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                self.send_response(self.target.answer(headers, body))
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/rightly"
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    yield good, bad
    for server in servers:
        server.shutdown()
        server.server_close()


async def _add(rt: Runtime, receiver: Receiver, events: list[str]) -> str:
    async with rt.db.session() as s:
        ep, secret = await webhooks.add(s, rt, ACTOR, receiver.url, events, "tickets")
    assert secret.startswith("whsec_")
    receiver.secret = secret
    return ep.id


async def _settle(rt: Runtime, w: Worker, seconds: float = 0) -> None:
    rt.clock.advance(seconds)  # type: ignore[attr-defined]
    await w.run_until_idle()


async def test_deliveries_are_signed_retried_after_a_500_and_logged(
    runtime: Runtime, receivers: tuple[Receiver, Receiver]
) -> None:
    good, _ = receivers
    endpoint = await _add(runtime, good, ["request.received", "request.completed"])
    await connect(runtime)
    w = worker(runtime)
    request_id = await submit(runtime, "access", "ada@example.com")
    await _settle(runtime, w)  # the access request runs; request.received and request.completed go out
    first = {d["id"] for d in good.deliveries}
    assert len(good.deliveries) == 2 and len(first) == 2  # each answered 500 the first time
    await _settle(runtime, w, 5)  # Standard Webhooks' first retry: 5 seconds later
    assert len(good.deliveries) == 4 and {d["id"] for d in good.deliveries[2:]} == first
    assert all(d["signature_ok"] for d in good.deliveries)
    types = sorted({d["body"]["type"] for d in good.deliveries})
    assert types == ["request.completed", "request.received"]
    for d in good.deliveries:
        assert d["body"]["data"] == {"request_id": request_id}
        assert b"ada@example.com" not in d["raw"] and set(d["body"]) == {"type", "timestamp", "data"}
    async with runtime.db.session() as s:
        tries = await webhooks.attempts(s, endpoint)
        ep = await webhooks.get_endpoint(s, endpoint)
    assert sorted((a.attempt, a.status_code, a.ok) for a in tries) == [
        (1, 500, False),
        (1, 500, False),
        (2, 200, True),
        (2, 200, True),
    ]
    assert webhooks.state_of(ep) == "active" and ep.last_success_at is not None


async def test_an_endpoint_failing_for_days_is_disabled_and_gets_nothing(
    runtime: Runtime, receivers: tuple[Receiver, Receiver]
) -> None:
    runtime.settings.webhook_disable_after_days = 1.0
    good, bad = receivers
    failing = await _add(runtime, bad, ["request.received"])
    w = worker(runtime)
    await connect(runtime)
    await submit(runtime, "deletion", user_id="user-7")
    await _settle(runtime, w)
    for wait in webhooks.RETRY_AFTER:  # 8 attempts over 27.6 hours, all answered 500
        await _settle(runtime, w, wait)
    assert [d["id"] for d in bad.deliveries] == [bad.deliveries[0]["id"]] * 8
    async with runtime.db.session() as s:
        (disabled,) = await webhooks.disabled_endpoints(s)
    assert disabled.id == failing and "every delivery failed for 1 day" in (disabled.disabled_reason or "")
    assert webhooks.state_of(disabled) == "disabled"

    # a disabled endpoint gets nothing: neither new events nor a test message
    good.always_fail = False
    await _add(runtime, good, ["request.received"])
    await submit(runtime, "access", user_id="user-42")
    async with runtime.db.session() as s:
        await webhooks.send_test(s, runtime, ACTOR, failing)
    await _settle(runtime, w)
    await _settle(runtime, w, 5)
    assert len(bad.deliveries) == 8
    assert [d["body"]["type"] for d in good.deliveries] == ["request.received"] * 2

    # re-enabled, it receives again (the test message here)
    async with runtime.db.session() as s:
        await webhooks.enable(s, runtime, ACTOR, failing)
        await webhooks.send_test(s, runtime, ACTOR, failing)
    await _settle(runtime, w, 1)
    assert bad.deliveries[-1]["body"]["type"] == "webhook.test" and bad.deliveries[-1]["signature_ok"]


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://example.com/hook", "https://"),
        ("https://user:pw@example.com/hook", "user name or password"),
        ("https://example.com/hook#x", "fragment"),
        ("https:///hook", "no host"),
        ("https://exa mple.com/", "printable ASCII"),
        ("file:///etc/passwd", "https://"),
    ],
)
async def test_endpoints_must_be_plain_http_urls(runtime: Runtime, url: str, why: str) -> None:
    async with runtime.db.session() as s:
        with pytest.raises(InvalidInput, match=why):
            await webhooks.add(s, runtime, ACTOR, url, ["request.completed"])
        with pytest.raises(InvalidInput, match="unknown event"):
            await webhooks.add(s, runtime, ACTOR, "https://example.com/h", ["request.nothing"])
        assert await webhooks.list_endpoints(s) == []
