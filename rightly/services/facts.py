"""What proofs, metrics and retention read about a request or a task, in one place.

Some facts have no column yet (another branch adds them): a request's regulation and the "denied"
status, a task's verification outcome. Each is read here from what exists now, through one small
function, so that connecting the new columns is a change to this file only:

- ``regulation_of``: ``request.regulation`` when the column exists, else "unspecified".
- ``response_of``: how a finished request was answered (``DENIED`` when its status is "denied").
- ``verification_of``: today derived from the evidence and the detail label; switch it to
  ``tasks.verification`` ("verified" | "submitted" | "not_verified") when that column lands.
- ``delivered_at``: when an access request's results reached the person (``request.delivered_at``
  when that exists), else when the request finished.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rightly.domain.enums import TaskStatus

UNSPECIFIED = "unspecified"
WHOLE, PART, DENIED, NOT_COMPLIED, WITHDRAWN, OPEN = (
    "complied_in_whole",
    "complied_in_part",
    "denied",
    "not_complied",
    "withdrawn",
    "open",
)


def regulation_of(request: Any) -> str:
    value = getattr(request, "regulation", None)
    return str(value) if value else UNSPECIFIED


def response_of(request: Any, task_statuses: Iterable[str]) -> str:
    """How a request was answered: in whole (every integration complete), in part (finished in
    error with at least one integration complete), denied, not complied with (finished with none
    complete), withdrawn (canceled), or still open."""
    status = str(request.status)
    statuses = list(task_statuses)
    if status == "denied":
        return DENIED
    if status == "complete":
        return WHOLE
    if status == "error":
        return PART if TaskStatus.COMPLETE in statuses else NOT_COMPLIED
    if status == "canceled":
        return PART if TaskStatus.COMPLETE in statuses else WITHDRAWN
    if request.completed_at is not None and status not in ("received", "processing"):
        return NOT_COMPLIED  # another way of closing a request (e.g. closed unverified)
    return OPEN


def verification_of(task: Any, evidence: Iterable[Any]) -> str | None:
    """A finished deletion task's verification: "verified" (a lookup after the deletion found
    nothing, or found nothing to delete), "submitted" (it ended when the vendor accepted the
    deletion: no verification), "not_verified" (complete some other way); None unless complete."""
    if task.status != TaskStatus.COMPLETE:
        return None
    if any(e.kind == "note" and str(e.outcome).startswith("deletion verified") for e in evidence):
        return "verified"
    detail = task.detail or ""
    if detail == "no records found":
        return "verified"
    if detail == "deletion submitted":
        return "submitted"
    return "not_verified"


def delivered_at(request: Any) -> float | None:
    value = getattr(request, "delivered_at", None)
    return float(value) if value is not None else request.completed_at
