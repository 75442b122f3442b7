"""Seed files: profiles (and events) to load into the emulator at start.

A seed file is JSON in one of two forms:

1. A list of upload-format records, loaded into every account::

       [{"type": "profile", "identity": "u-1",
         "profileData": {"Email": "ann@example.com", "Name": "Ann"}},
        {"type": "event", "identity": "u-1", "evtName": "App Launched", "ts": 1767225600}]

2. Records per account (Project ID), each account given with ``--account`` / ``add_account``::

       {"accounts": {"TEST-123": [<records>], "TEST-456": [<records>]}}

Records are exactly what ``POST /1/upload`` takes inside ``"d"`` (see ``rightly.emulator.upload``),
plus two seed-only keys on profile records: ``"events"`` (a ready summary,
``{"App Launched": {"count": 3, "first_seen": 1767225600, "last_seen": 1767312000}}``) and
``"objectIds"`` (the profile's objectIds; one is generated when none is given). A record the
upload endpoint would reject makes the whole seed fail.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rightly.emulator.state import EmulatorState
from rightly.emulator.upload import apply_records


class SeedError(ValueError):
    pass


def load_seed(state: EmulatorState, data: Any) -> int:
    """Load seed data (either form) into ``state``; returns the number of records applied."""
    if isinstance(data, list):
        batches = {pid: data for pid in state.accounts}
    elif isinstance(data, dict) and isinstance(data.get("accounts"), dict):
        batches = data["accounts"]
    else:
        raise SeedError('a seed must be a list of upload records or {"accounts": {PROJECT_ID: [records]}}')
    applied = 0
    for pid, records in batches.items():
        if pid not in state.accounts:
            known = ", ".join(state.accounts) or "none"
            raise SeedError(f"seed names account {pid!r}, which is not configured (configured: {known})")
        if not isinstance(records, list):
            raise SeedError(f"seed records for account {pid!r} must be a list")
        result = apply_records(state.account(pid), records, state.clock.now(), seed=True)
        if result.unprocessed:
            first = result.unprocessed[0]
            raise SeedError(f"seed record for account {pid!r} rejected: {first['error']}: {first['record']}")
        applied += result.processed
    return applied


def load_seed_file(state: EmulatorState, path: Path) -> int:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SeedError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise SeedError(f"{path} is not valid JSON: {exc}") from exc
    return load_seed(state, data)
