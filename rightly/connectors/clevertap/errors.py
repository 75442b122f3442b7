"""The error table: one pure function maps a CleverTap answer (or a transport failure) to an action.

Facts from clevertap-api.md §2-§5: 401 = bad credentials *or wrong regional host*; 403 = operation
not allowed; 429 = too many concurrent requests; failures can arrive as HTTP 200 with
``status: "fail"``; "not found" on ``GET /1/profile.json`` is undocumented and plausibly comes in two
shapes (§5, §11.2), both as HTTP 200.

The discipline (DESIGN.md, style 11): an answer counts as a result only when it can mean nothing
else. A lookup is "no profile" (``NOT_FOUND``) only on exactly one of the two plausible shapes:

* ``{"status": "success", "record": null}``: the key present and null, nothing else in the body;
* ``{"status": "fail", "error": <one of NOT_FOUND_MESSAGES>, "code": 404}`` (``code`` may be
  absent), nothing else in the body.

Anything that also signals a temporary problem (a server-error code, "try again"), a body that
merely resembles one of them (``{"status": "success"}`` without ``record``, an empty record, "Account
does not exist"), and any answer this table does not recognise is ``RETRY``: retried, counted and
shown, never read as "gone" or "done". A deletion is accepted only on ``{"status": "success"}``
(optionally with ``processed`` and an empty ``unprocessed``).

Reasons summarise an answer in Rightly's own words (HTTP status, CleverTap's numeric code, which
rule applied) and never quote the vendor's text: an error message can hold anything the far end
chose to send, and reasons are shown in task errors, connection checks, pages and API answers.
"""

from __future__ import annotations

import json
import re
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

# The exact "no such profile" texts accepted in the ``status: "fail"`` shape (compared lower-cased,
# without surrounding spaces and a final full stop). Deliberately short: a text that merely contains
# "not found" ("Profile store not found on this node, please try again") or speaks of something else
# ("Account does not exist") is not on it.
NOT_FOUND_MESSAGES = frozenset(
    {
        "user not found",
        "profile not found",
        "no user found",
        "no profile found",
        "user does not exist",
        "profile does not exist",
    }
)
_NULL_SHAPE_KEYS = frozenset({"status", "record"})
_FAIL_SHAPE_KEYS = frozenset({"status", "error", "code"})
_DELETE_OK_KEYS = frozenset({"status", "processed", "unprocessed"})
_TEMPORARY = re.compile(r"try again|retry|later|temporar|in progress|unavailable|timeout|timed out", re.I)


@dataclass(frozen=True)
class Verdict:
    action: Action
    reason: str
    status_code: int | None = None
    body: dict[str, Any] | None = None

    @property
    def record(self) -> dict[str, Any] | None:
        """The profile of a lookup that found one (only ever on ``OK``)."""
        if self.action is not Action.OK:
            return None
        rec = (self.body or {}).get("record")
        return rec if isinstance(rec, dict) else None


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
    inner = _code(body)
    if code == 429:
        return Verdict(Action.SLOW_DOWN, f"CleverTap is rate limiting (HTTP 429{inner})", code, body)
    if code >= 500:
        return Verdict(Action.RETRY, f"CleverTap had a server error (HTTP {code}{inner})", code, body)
    if code == 401:
        return Verdict(
            Action.REJECT_CREDENTIALS, f"CleverTap rejected the credentials (HTTP 401{inner})", code
        )
    if code == 403:
        return Verdict(Action.FORBIDDEN, f"CleverTap refused the operation (HTTP 403{inner})", code)
    if code >= 400:
        return Verdict(Action.FAIL, f"CleverTap refused the request (HTTP {code}{inner})", code, body)
    if code >= 300:
        return Verdict(Action.RETRY, f"CleverTap answered with an unexpected redirect (HTTP {code})", code)
    if code != 200:
        return Verdict(
            Action.RETRY, f"CleverTap answered HTTP {code}, which is not a final answer", code, body
        )
    if body is None:
        return Verdict(
            Action.RETRY, f"CleverTap's answer could not be read (HTTP {code}, not a JSON object)", code
        )
    return _classify_body(body, code, call)


def _classify_body(body: dict[str, Any], code: int, call: Call) -> Verdict:
    status = body.get("status")
    if status == "success":
        return _classify_success(body, code, call)
    if status == "partial":
        return Verdict(Action.RETRY, "CleverTap processed the request only in part", code, body)
    if status == "fail":
        return _classify_fail(body, code, call)
    return Verdict(Action.RETRY, "CleverTap's answer has a status Rightly does not recognise", code, body)


def _classify_success(body: dict[str, Any], code: int, call: Call) -> Verdict:
    keys = set(body)
    if call != "lookup":
        unprocessed = body.get("unprocessed")
        if keys <= _DELETE_OK_KEYS and unprocessed in (None, []):
            return Verdict(Action.OK, "accepted", code, body)
        if unprocessed:
            return Verdict(Action.RETRY, "CleverTap left part of the request unprocessed", code, body)
        return Verdict(
            Action.RETRY, "CleverTap's success answer holds fields Rightly does not recognise", code, body
        )
    if "record" not in body:
        return Verdict(
            Action.RETRY, "CleverTap answered success without a record (not a known answer)", code, body
        )
    record = body["record"]
    if record is None:
        if keys <= _NULL_SHAPE_KEYS:
            return Verdict(Action.NOT_FOUND, "no profile found", code, body)
        return Verdict(
            Action.RETRY, "CleverTap's empty answer holds fields Rightly does not recognise", code, body
        )
    if isinstance(record, dict) and record:
        return Verdict(Action.OK, "profile found", code, body)
    return Verdict(Action.RETRY, "CleverTap's answer has a record Rightly does not recognise", code, body)


def _classify_fail(body: dict[str, Any], code: int, call: Call) -> Verdict:
    inner = body.get("code")
    error = body.get("error")
    text = str(error or "")
    shown = _code(body)
    if inner == 401:
        return Verdict(Action.REJECT_CREDENTIALS, f"CleverTap rejected the credentials{shown}", code, body)
    if inner == 403:
        return Verdict(Action.FORBIDDEN, f"CleverTap refused the operation{shown}", code, body)
    if inner == 429 or "too many" in text.lower():
        return Verdict(Action.SLOW_DOWN, f"CleverTap is rate limiting{shown}", code, body)
    if call == "lookup" and _is_not_found(body):
        return Verdict(Action.NOT_FOUND, "no profile found", code, body)
    if (isinstance(inner, int) and inner >= 500) or _TEMPORARY.search(text):
        return Verdict(Action.RETRY, f"CleverTap reported a temporary failure{shown}", code, body)
    # An unknown failure is never read as success or as "not found": retry, bounded by the engine.
    return Verdict(
        Action.RETRY, f"CleverTap answered with a failure Rightly does not recognise{shown}", code, body
    )


def _is_not_found(body: dict[str, Any]) -> bool:
    """The ``status: "fail"`` shape of "no such profile", and nothing else (see the module docstring)."""
    if not set(body) <= _FAIL_SHAPE_KEYS or body.get("code", 404) != 404:
        return False
    error = body.get("error")
    return isinstance(error, str) and error.strip().rstrip(".").strip().lower() in NOT_FOUND_MESSAGES


def _json_object(response: Answer) -> dict[str, Any] | None:
    try:
        data = json.loads(response.content)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _code(body: dict[str, Any] | None) -> str:
    """CleverTap's own numeric code, when the body has one: the only part of its text ever shown."""
    inner = (body or {}).get("code")
    if isinstance(inner, int) and not isinstance(inner, bool) and -(10**9) < inner < 10**9:
        return f", code {inner}"
    return ""
