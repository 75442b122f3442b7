"""What proofs, metrics and retention read about a request or a task, in one place.

Each fact is read through one small function, so that where it is stored is a change to this file only:

- ``regulation_of``: ``request.regulation`` ("unspecified" for an object without one).
- ``response_of``: how a request was answered (``DENIED`` for "denied", and for "closed_unverified":
  CCPA's reports count a request that could not be verified as denied).
- ``received_of``: when the legal clock started (``received_at``: the identity verified), else
  when the request was made.
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
    if status in ("denied", "closed_unverified"):
        return DENIED  # CCPA's reports count a request that could not be verified as denied
    if status in ("pending_verification", "pending_review"):
        return OPEN
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


def received_of(request: Any) -> float:
    """When the legal clock started: the identity verified (public requests), else creation."""
    value = getattr(request, "received_at", None)
    return float(value) if value is not None else float(request.created_at)


def delivered_at(request: Any) -> float | None:
    value = getattr(request, "delivered_at", None)
    return float(value) if value is not None else request.completed_at
