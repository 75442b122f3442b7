"""Access results: CleverTap profile records, with duplicates merged."""

from __future__ import annotations

from typing import Any

from rightly.connectors.clevertap.api import object_ids


def merge_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop records that are the same profile found twice (by email and by user ID): the same
    profile shares an objectId, or, lacking objectIds, has the same identity and email."""
    merged: list[dict[str, Any]] = []
    seen_ids: set[str] = set()
    seen_keys: set[tuple[Any, Any]] = set()
    for record in records:
        ids = set(object_ids(record))
        key = (record.get("identity"), record.get("email"))
        if (ids and ids & seen_ids) or (not ids and key in seen_keys):
            continue
        seen_ids |= ids
        seen_keys.add(key)
        merged.append(record)
    return merged
