"""CleverTap's upload format, applied to an account (``POST /1/upload`` and seed files).

Profile records: ``{"identity": .., "type": "profile", "profileData": {..}}``; ``profileData.Email``
sets the profile's email and ``profileData.Identity`` stands in for a missing top-level identity.
Event records: ``{"identity": .., "type": "event", "evtName": .., "evtData": {..}, "ts": <epoch s>}``
fold into the profile's event summary. ``objectId`` may name the profile instead of (or besides)
``identity``. A record naming no known profile creates one, as the SDK would.

Rejected records land in ``unprocessed`` as ``{status, code, error, record}`` (the shape of the real
2017 capture, clevertap-api.md §3). Code 523 and its message come from that capture; code 400 for
other malformed records is the emulator's choice [INFERRED].

Seed files may also carry two emulator-only keys in profile records: ``"events"`` (a ready event
summary, ``{name: {count, first_seen, last_seen}}``) and ``"objectIds"`` (a list).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from rightly.emulator.accounts import Account
from rightly.emulator.profiles import Profile

MAX_RECORDS = 1000
IDENTITY_MISSING = "'identity' or 'fbId' or 'gpId' or 'objectId' is necessary"


class RecordRejected(Exception):
    def __init__(self, code: int, error: str) -> None:
        super().__init__(error)
        self.code = code
        self.error = error


@dataclass
class UploadResult:
    processed: int = 0
    unprocessed: list[dict[str, Any]] = field(default_factory=list)


def apply_records(account: Account, records: list[Any], now: float, *, seed: bool = False) -> UploadResult:
    """Apply upload-format records in order; ``seed=True`` also accepts the emulator-only keys."""
    result = UploadResult()
    for record in records:
        try:
            apply_record(account, record, now, seed=seed)
        except RecordRejected as exc:
            result.unprocessed.append(
                {"status": "fail", "code": exc.code, "error": exc.error, "record": json.dumps(record)}
            )
        else:
            result.processed += 1
    return result


def apply_record(account: Account, record: Any, now: float, *, seed: bool = False) -> Profile:
    if not isinstance(record, dict):
        raise RecordRejected(400, "record must be a JSON object")
    kind = record.get("type")
    if kind not in ("profile", "event"):
        raise RecordRejected(400, "'type' must be 'profile' or 'event'")
    data = record.get("profileData", {}) if kind == "profile" else {}
    if not isinstance(data, dict):
        raise RecordRejected(400, "'profileData' must be an object")
    identity = _text(record.get("identity", data.get("Identity")))
    object_id = _text(record.get("objectId"))
    seed_ids = record.get("objectIds") if seed else None
    if object_id is None and isinstance(seed_ids, list) and seed_ids:
        object_id = _text(seed_ids[0])  # the seed names the profile's ids: none is generated
    if identity is None and object_id is None:
        raise RecordRejected(523, IDENTITY_MISSING)
    if kind == "event":
        name = record.get("evtName")
        if not isinstance(name, str) or not name:
            raise RecordRejected(400, "'evtName' is necessary for an event record")
        ts = _epoch(record.get("ts"), now)
        profile = _resolve(account, identity, object_id)
        profile.add_event(name, ts)
        return profile
    profile = _resolve(account, identity, object_id)
    for key, value in data.items():
        if key == "Email":
            profile.email = None if value is None else str(value)
        elif key != "Identity":
            profile.profile_data[key] = value
    if seed:
        _apply_seed_extras(account, profile, record)
    return profile


def _resolve(account: Account, identity: str | None, object_id: str | None) -> Profile:
    """The profile a record names, created when there is none."""
    by_identity = account.find(identity=identity) if identity is not None else None
    by_object_id = account.find(object_id=object_id) if object_id is not None else None
    if by_identity is not None:
        if object_id is not None and by_object_id is None:
            by_identity.add_object_id(object_id)
        return by_identity
    if by_object_id is not None and (identity is None or by_object_id.identity in (None, identity)):
        by_object_id.identity = by_object_id.identity or identity
        return by_object_id
    # A new profile; an objectId already owned by another identity stays with its owner.
    fresh_id = object_id if object_id is not None and by_object_id is None else None
    return account.add_profile(identity=identity, object_ids=[fresh_id] if fresh_id else None)


def _apply_seed_extras(account: Account, profile: Profile, record: dict[str, Any]) -> None:
    events = record.get("events", {})
    if not isinstance(events, dict):
        raise RecordRejected(400, "'events' must map event names to summaries")
    for name, summary in events.items():
        try:
            profile.events[str(name)] = {
                "count": int(summary["count"]),
                "first_seen": int(summary["first_seen"]),
                "last_seen": int(summary["last_seen"]),
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise RecordRejected(400, f"event summary {name!r} needs count, first_seen, last_seen") from exc
    object_ids = record.get("objectIds", [])
    if not isinstance(object_ids, list):
        raise RecordRejected(400, "'objectIds' must be a list")
    for object_id in map(str, object_ids):
        owner = account.find(object_id=object_id)
        if owner is not None and owner is not profile:
            raise RecordRejected(400, f"objectId {object_id!r} already belongs to another profile")
        profile.add_object_id(object_id)


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _epoch(value: Any, now: float) -> int:
    """Epoch seconds from ``ts``: a number, digits, or CleverTap's ``$D_<epoch>`` form."""
    if value is None:
        return int(now)
    if isinstance(value, bool):
        raise RecordRejected(400, "'ts' must be epoch seconds")
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        digits = value.removeprefix("$D_")
        if digits.isdigit():
            return int(digits)
    raise RecordRejected(400, "'ts' must be epoch seconds")
