"""The error table: one pure function maps a CleverTap answer (or a transport failure) to an action.

Facts from clevertap-api.md §2-§5: 401 = bad credentials *or wrong regional host*; 403 = operation
not allowed; 429 = too many concurrent requests; failures can arrive as HTTP 200 with
``status: "fail"``; "not found" on ``GET /1/profile.json`` is undocumented and comes both as
``{"status":"success","record":null}`` and as ``{"status":"fail","error":...}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, Protocol

from rightly.http.vendor import VendorError, VendorTimeout

Call = Literal["lookup", "delete", "connect"]


class Action(StrEnum):
    OK = "ok"
    NOT_FOUND = "not_found"
    RETRY = "retry"
    SLOW_DOWN = "slow_down"  # retry, and slow the whole account down for a while
    REJECT_CREDENTIALS = "reject_credentials"
    FORBIDDEN = "forbidden"
    FAIL = "fail"


RETRYABLE = frozenset({Action.RETRY, Action.SLOW_DOWN})


@dataclass(frozen=True)
class Verdict:
    action: Action
    reason: str
    status_code: int | None = None
    body: dict[str, Any] | None = None

    @property
    def record(self) -> dict[str, Any] | None:
        rec = (self.body or {}).get("record")
        return rec if isinstance(rec, dict) else None


# Texts CleverTap (or its stand-ins) use for "no such profile" in a status:"fail" body.
_NOT_FOUND_HINTS = ("not found", "no user", "no profile", "does not exist", "doesn't exist", "not exist")
_IN_PROGRESS_HINTS = ("still in progress", "try again", "temporarily")


class Answer(Protocol):
    """An HTTP answer as the table reads it (``VendorResponse``; an ``httpx.Response`` also fits)."""

    @property
    def status_code(self) -> int: ...
    @property
    def content(self) -> bytes: ...


def classify_exception(exc: VendorError) -> Verdict:
    """A call that got no HTTP answer: always worth another try, later."""
    if isinstance(exc, VendorTimeout):
        return Verdict(Action.RETRY, f"CleverTap did not answer: {exc.what} (timeout)")
    return Verdict(Action.RETRY, f"could not reach {exc.host}: {exc.what}")


def classify_response(response: Answer, call: Call) -> Verdict:
    code = response.status_code
    body = _json_object(response)
    message = _message(body)
    if code == 429:
        return Verdict(Action.SLOW_DOWN, f"CleverTap is rate limiting (HTTP 429{message})", code, body)
    if code >= 500:
        return Verdict(Action.RETRY, f"CleverTap had a server error (HTTP {code}{message})", code, body)
    if code == 401:
        return Verdict(
            Action.REJECT_CREDENTIALS, f"CleverTap rejected the credentials (HTTP 401{message})", code
        )
    if code == 403:
        return Verdict(Action.FORBIDDEN, f"CleverTap refused the operation (HTTP 403{message})", code)
    if code >= 400:
        return Verdict(Action.FAIL, f"CleverTap refused the request (HTTP {code}{message})", code, body)
    if code >= 300:
        return Verdict(Action.RETRY, f"CleverTap answered with an unexpected redirect (HTTP {code})", code)
    if body is None:
        return Verdict(
            Action.RETRY, f"CleverTap's answer could not be read (HTTP {code}, not a JSON object)", code
        )
    return _classify_body(body, code, call)


def _classify_body(body: dict[str, Any], code: int, call: Call) -> Verdict:
    status = body.get("status")
    message = _message(body)
    if status == "success":
        if call != "lookup":
            return Verdict(Action.OK, "accepted", code, body)
        record = body.get("record")
        if record is None or record == {} or record == []:
            return Verdict(Action.NOT_FOUND, "no profile found", code, body)
        if isinstance(record, dict):
            return Verdict(Action.OK, "profile found", code, body)
        return Verdict(Action.RETRY, "CleverTap's answer has a record that is not an object", code, body)
    if status == "partial":
        return Verdict(Action.RETRY, f"CleverTap processed the request only in part{message}", code, body)
    if status == "fail":
        return _classify_fail(body, code, call)
    return Verdict(Action.RETRY, f"CleverTap's answer has an unknown status {status!r}", code, body)


def _classify_fail(body: dict[str, Any], code: int, call: Call) -> Verdict:
    inner = body.get("code")
    text = str(body.get("error") or "").lower()
    message = _message(body)
    if inner == 401:
        return Verdict(Action.REJECT_CREDENTIALS, f"CleverTap rejected the credentials{message}", code, body)
    if inner == 403:
        return Verdict(Action.FORBIDDEN, f"CleverTap refused the operation{message}", code, body)
    if inner == 429 or "too many" in text:
        return Verdict(Action.SLOW_DOWN, f"CleverTap is rate limiting{message}", code, body)
    if call == "lookup" and any(hint in text for hint in _NOT_FOUND_HINTS):
        return Verdict(Action.NOT_FOUND, "no profile found", code, body)
    if any(hint in text for hint in _IN_PROGRESS_HINTS) or (isinstance(inner, int) and inner >= 500):
        return Verdict(Action.RETRY, f"CleverTap asked to try again{message}", code, body)
    # An unknown failure is never read as success or as "not found": retry, bounded by the engine.
    return Verdict(Action.RETRY, f"CleverTap answered status 'fail'{message}", code, body)


def _json_object(response: Answer) -> dict[str, Any] | None:
    try:
        data = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _message(body: dict[str, Any] | None) -> str:
    if not body:
        return ""
    error = body.get("error")
    return f': "{str(error)[:200]}"' if error else ""
