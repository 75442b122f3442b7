"""When a profile marked for deletion disappears (clevertap-api.md §7).

CleverTap marks a profile and a daily job "between 2 AM and 4 AM (local time)" deletes the marked
profiles, "within the next 48 hours". The emulator runs one batch per local night at a time drawn
from the seed, the project and the date (so it is stable however often it is asked), and a marked
profile goes at the first batch after it was marked. A fixed ``deletion_delay`` replaces the batch
when a server or a test wants it compressed.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

BATCH_START = time(2, 0)
BATCH_SPAN_SECONDS = 2 * 3600  # the batch runs somewhere between 02:00 and 04:00


def batch_run_on(day: date, tz: ZoneInfo, key: str) -> float:
    """Epoch seconds of the batch run in the night of ``day`` (local date)."""
    offset = random.Random(f"{key}:{day.isoformat()}").uniform(0, BATCH_SPAN_SECONDS)
    start = datetime.combine(day, BATCH_START, tzinfo=tz)
    return start.timestamp() + offset


def purge_time(marked_at: float, tz: ZoneInfo, key: str, deletion_delay: float | None) -> float:
    """When a profile marked at ``marked_at`` vanishes from lookups."""
    if deletion_delay is not None:
        return marked_at + deletion_delay
    day = datetime.fromtimestamp(marked_at, tz).date()
    for offset in range(3):
        run = batch_run_on(day + timedelta(days=offset), tz, key)
        if run > marked_at:
            return run
    raise AssertionError("a nightly batch always runs within two days")  # pragma: no cover
