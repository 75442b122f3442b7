"""The four CleverTap calls the emulator answers, once the caller is authenticated and admitted.

Each handler returns a ``Reply`` (HTTP status and JSON body); routing, auth, limits and faults are
the app's business (``rightly.emulator.app``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rightly.emulator.accounts import Account, Passcode
from rightly.emulator.stats import DeletionRecord, Stats
from rightly.emulator.upload import MAX_RECORDS, apply_records

LOOKUP_KEYS = ("email", "identity", "objectId")
MAX_DELETE_IDS = 100  # clevertap-api.md §7
# The emulator's choice for the "fail" shape of a not-found lookup (clevertap-api.md §5 and §11.2).
NOT_FOUND_ERROR = "User not found"
NOT_FOUND_CODE = 404


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]

    def encode(self) -> bytes:
        return json.dumps(self.body, separators=(",", ":")).encode()


def fail(http_status: int, error: str, code: int | None = None) -> Reply:
    """CleverTap's failure envelope (clevertap-api.md §3)."""
    return Reply(
        http_status, {"status": "fail", "error": error, "code": http_status if code is None else code}
    )


def invalid_credentials() -> Reply:
    return fail(401, "Invalid Credentials")


def too_many_requests() -> Reply:
    return fail(429, "Too many concurrent requests")


def success(**fields: Any) -> Reply:
    return Reply(200, {"status": "success", **fields})


def parse_json(body: bytes) -> Any:
    """The decoded body, or a 400 ``Reply`` when it is not JSON."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return fail(400, "Invalid JSON payload")


def lookup_profile(account: Account, query: Mapping[str, str]) -> Reply:
    """``GET /1/profile.json`` with exactly one of email, identity, objectId (clevertap-api.md §5)."""
    given = [key for key in LOOKUP_KEYS if key in query]
    if len(given) != 1 or not query[given[0]]:
        return fail(400, "Exactly one of email, identity or objectId is required")
    key, value = given[0], query[given[0]]
    if key == "email":
        profile = account.find(email=value)
    elif key == "identity":
        profile = account.find(identity=value)
    else:
        profile = account.find(object_id=value)
    if profile is not None:
        return success(record=profile.record())
    if account.not_found_shape == "fail":
        return Reply(200, {"status": "fail", "error": NOT_FOUND_ERROR, "code": NOT_FOUND_CODE})
    return success(record=None)


def delete_profiles(account: Account, passcode: Passcode, payload: Any, stats: Stats, now: float) -> Reply:
    """``POST /1/delete/profiles.json`` with ``identity`` or ``guid`` (clevertap-api.md §7)."""
    if not passcode.can_delete:
        return fail(403, "Operation is not allowed")
    if isinstance(payload, Reply):
        return payload
    if not isinstance(payload, dict):
        return fail(400, "Payload must be a JSON object")
    has_identity = payload.get("identity") is not None
    has_guid = payload.get("guid") is not None
    if has_identity == has_guid:
        return fail(400, "Exactly one of identity or guid is required")
    field = "identity" if has_identity else "guid"
    values = _id_list(payload[field])
    if values is None:
        return fail(400, f"'{field}' must be a string or an array of 1 to {MAX_DELETE_IDS} strings")
    identities = values if has_identity else []
    guids = values if has_guid else []
    matched = account.mark_for_deletion(identities=identities, guids=guids)
    stats.deletions.append(
        DeletionRecord(
            project_id=account.project_id,
            time=now,
            identity=identities or None,
            guid=guids or None,
            matched=matched,
        )
    )
    return success()


def upload(account: Account, payload: Any, now: float) -> Reply:
    """``POST /1/upload``: up to 1000 profile/event records (clevertap-api.md §3, §7)."""
    if isinstance(payload, Reply):
        return payload
    records = payload.get("d") if isinstance(payload, dict) else None
    if not isinstance(records, list) or not records:
        return fail(400, 'Payload must be {"d": [records]}')
    if len(records) > MAX_RECORDS:
        return fail(400, f"At most {MAX_RECORDS} records per request")
    result = apply_records(account, records, now)
    return success(processed=result.processed, unprocessed=result.unprocessed)


def connect() -> Reply:
    """``GET /v1/connect?partner=NAME``: the credential check (clevertap-api.md §2); shape unknown."""
    return success()


def _id_list(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value] if value else None
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_DELETE_IDS:
        return None
    if not all(isinstance(v, str) and v for v in value):
        return None
    return list(value)
