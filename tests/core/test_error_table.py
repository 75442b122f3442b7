"""The error table: every CleverTap answer maps to one action (clevertap-api.md §2-§5)."""

from __future__ import annotations

import httpx
import pytest

from rightly.connectors.clevertap.errors import Action, classify_exception, classify_response
from rightly.http.vendor import VendorTimeout, VendorUnreachable


def answer(status: int, body: object = None, raw: bytes | None = None) -> httpx.Response:
    if raw is not None:
        return httpx.Response(status, content=raw)
    return httpx.Response(status, json=body)


@pytest.mark.parametrize(
    ("response", "call", "action"),
    [
        (answer(200, {"status": "success", "record": {"email": "a@b.c"}}), "lookup", Action.OK),
        (answer(200, {"status": "success", "record": None}), "lookup", Action.NOT_FOUND),
        (answer(200, {"status": "success"}), "lookup", Action.NOT_FOUND),
        (answer(200, {"status": "fail", "error": "User not found", "code": 404}), "lookup", Action.NOT_FOUND),
        (
            answer(200, {"status": "fail", "error": "Request still in progress", "code": 2}),
            "lookup",
            Action.RETRY,
        ),
        (answer(200, {"status": "fail", "error": "Something odd", "code": 500}), "lookup", Action.RETRY),
        (answer(200, {"status": "fail", "error": "mystery"}), "lookup", Action.RETRY),
        (
            answer(200, {"status": "fail", "error": "Invalid Credentials", "code": 401}),
            "lookup",
            Action.REJECT_CREDENTIALS,
        ),
        (
            answer(200, {"status": "fail", "error": "Too many concurrent requests", "code": 429}),
            "delete",
            Action.SLOW_DOWN,
        ),
        (answer(200, {"status": "success"}), "delete", Action.OK),
        (answer(200, {"status": "partial"}), "delete", Action.RETRY),
        (answer(200, {"status": "weird"}), "delete", Action.RETRY),
        (answer(200, {"status": "success", "record": "garbage"}), "lookup", Action.RETRY),
        (answer(200, raw=b"<html>oops</html>"), "lookup", Action.RETRY),
        (answer(200, [1, 2]), "lookup", Action.RETRY),
        (
            answer(401, {"status": "fail", "error": "Invalid Credentials", "code": 401}),
            "lookup",
            Action.REJECT_CREDENTIALS,
        ),
        (
            answer(403, {"status": "fail", "error": "Operation is not allowed", "code": 403}),
            "delete",
            Action.FORBIDDEN,
        ),
        (
            answer(429, {"status": "fail", "error": "Too many concurrent requests", "code": 429}),
            "lookup",
            Action.SLOW_DOWN,
        ),
        (answer(500, raw=b""), "lookup", Action.RETRY),
        (answer(503, {"status": "fail"}), "delete", Action.RETRY),
        (answer(400, {"status": "fail", "error": "bad", "code": 400}), "delete", Action.FAIL),
    ],
)
def test_each_answer_maps_to_one_action(response: httpx.Response, call: str, action: Action) -> None:
    assert classify_response(response, call).action is action  # type: ignore[arg-type]


def test_a_not_found_message_is_not_read_as_not_found_for_a_deletion() -> None:
    verdict = classify_response(answer(200, {"status": "fail", "error": "User not found"}), "delete")
    assert verdict.action is Action.RETRY


def test_transport_failures_are_retried_and_name_the_host() -> None:
    verdict = classify_exception(VendorUnreachable("us1.api.clevertap.com", "ClientConnectorError"))
    assert verdict.action is Action.RETRY
    assert "us1.api.clevertap.com" in verdict.reason
    timeout = classify_exception(VendorTimeout("us1.api.clevertap.com", "no answer within 20 s"))
    assert timeout.action is Action.RETRY and "within 20 s" in timeout.reason


def test_failure_reasons_quote_clevertap_error_text() -> None:
    verdict = classify_response(
        answer(400, {"status": "fail", "error": "identity and guid both given"}), "delete"
    )
    assert "identity and guid both given" in verdict.reason and "HTTP 400" in verdict.reason
