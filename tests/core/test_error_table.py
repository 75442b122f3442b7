"""The error table: every CleverTap answer maps to one action (clevertap-api.md §2-§5)."""

from __future__ import annotations

import httpx
import pytest

from rightly.connectors.clevertap.errors import Action, classify_exception, classify_response
from rightly.emulator.faults import LIAR_DELETES, LIAR_LOOKUPS
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
        (answer(200, {"status": "success"}), "lookup", Action.RETRY),  # no record key: not a known shape
        (answer(200, {"status": "success", "record": {}}), "lookup", Action.RETRY),
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


def test_failure_reasons_summarise_and_never_quote_clevertap_text() -> None:
    """A vendor's error text can hold anything the far end chose to send (an internal endpoint's
    answer, a passcode echoed back): reasons say what happened in Rightly's words, with the numbers."""
    leaky = "pc-correct-horse at http://10.0.0.5/internal {secret}"
    for status, call in ((400, "delete"), (200, "lookup"), (500, "lookup"), (429, "delete"), (401, "lookup")):
        verdict = classify_response(answer(status, {"status": "fail", "error": leaky, "code": 123}), call)  # type: ignore[arg-type]
        assert "pc-correct-horse" not in verdict.reason and "internal" not in verdict.reason
        assert f"HTTP {status}" in verdict.reason or status == 200
        assert "code 123" in verdict.reason
    odd = classify_response(answer(200, {"status": "<script>alert(1)</script>"}), "lookup")
    assert "script" not in odd.reason and odd.action is Action.RETRY


@pytest.mark.parametrize("body", LIAR_LOOKUPS)
def test_liar_lookups_are_never_not_found(body: dict[str, object]) -> None:
    """Answers that resemble "no such profile" but are not one of the two documented shapes
    (clevertap-api.md §5) are unknown: retried and shown, never "gone"."""
    verdict = classify_response(answer(200, body), "lookup")
    assert verdict.action is Action.RETRY, body
    assert verdict.record is None


@pytest.mark.parametrize("body", LIAR_DELETES)
def test_liar_deletion_answers_are_never_accepted(body: dict[str, object]) -> None:
    assert classify_response(answer(200, body), "delete").action is Action.RETRY


@pytest.mark.parametrize(
    "body",
    [
        {"status": "success", "record": None},
        {"status": "fail", "error": "User not found", "code": 404},
        {"status": "fail", "error": "User not found"},
        {"status": "fail", "error": "Profile not found."},
        {"status": "fail", "error": " no profile found ", "code": 404},
    ],
)
def test_the_two_documented_not_found_shapes(body: dict[str, object]) -> None:
    assert classify_response(answer(200, body), "lookup").action is Action.NOT_FOUND


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, {"status": "fail", "error": "User not found", "code": 500}),  # a server error too
        (200, {"status": "fail", "error": "User not found", "code": 404, "retry_after": 5}),
        (200, {"status": "success", "record": None, "processed": 0}),
        (404, {"status": "fail", "error": "User not found", "code": 404}),  # not the documented 200
        (202, {"status": "success", "record": None}),  # accepted, not an answer yet
        (200, {"status": "fail", "error": "user not found on shard 3", "code": 404}),
    ],
)
def test_near_misses_of_not_found_are_not_gone(status: int, body: dict[str, object]) -> None:
    assert classify_response(answer(status, body), "lookup").action is not Action.NOT_FOUND
