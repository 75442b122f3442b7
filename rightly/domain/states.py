"""The request/task state machine. One guarded ``transition`` changes a task's status.

    not_started -> pending -> processing -> complete
         |            |           |     \\-> error
         +------------+-----------+------> canceled
    error / canceled -> pending   (retry)

A request's status rolls up from its tasks (``rollup``) once it runs. Before that it has no tasks
and its status is set by the privacy services:

    pending_verification -> received                 (the link is used, or staff vouch)
    pending_verification -> pending_review -> received   (under the review gate: approved)
    pending_verification -> closed_unverified        (7 days without a click)
    pending_review -> denied                         (a request manager refused, with a reason)
    pending_verification / pending_review -> canceled
"""

from __future__ import annotations

from collections.abc import Iterable

from rightly.domain.enums import RequestStatus, TaskStatus

T = TaskStatus
R = RequestStatus
_TASKLESS = frozenset({R.PENDING_VERIFICATION, R.PENDING_REVIEW, R.DENIED, R.CLOSED_UNVERIFIED, R.CANCELED})
ALLOWED: dict[TaskStatus, frozenset[TaskStatus]] = {
    T.NOT_STARTED: frozenset({T.PENDING, T.PROCESSING, T.COMPLETE, T.ERROR, T.CANCELED}),
    T.PENDING: frozenset({T.PENDING, T.PROCESSING, T.COMPLETE, T.ERROR, T.CANCELED}),
    T.PROCESSING: frozenset({T.PROCESSING, T.COMPLETE, T.ERROR, T.CANCELED}),
    T.COMPLETE: frozenset(),
    T.ERROR: frozenset({T.PENDING}),
    T.CANCELED: frozenset({T.PENDING}),
}


class InvalidTransition(ValueError):
    def __init__(self, current: TaskStatus, target: TaskStatus) -> None:
        super().__init__(f"a task cannot go from {current} to {target}")
        self.current = current
        self.target = target


def transition(current: str, target: str) -> TaskStatus:
    """Validate a task status change; returns the new status or raises InvalidTransition."""
    src, dst = TaskStatus(current), TaskStatus(target)
    if dst not in ALLOWED[src]:
        raise InvalidTransition(src, dst)
    return dst


def rollup(statuses: Iterable[str], current: str | None = None) -> RequestStatus:
    """A request's status from its tasks' statuses. A request without tasks keeps ``current``
    when that is a status set before (or instead of) running: held, denied, closed unverified."""
    seen = [TaskStatus(s) for s in statuses]
    if not seen:
        if current in _TASKLESS:
            return RequestStatus(current)
        return RequestStatus.RECEIVED
    if all(s is T.CANCELED for s in seen):
        return RequestStatus.CANCELED
    open_ = [s for s in seen if s in (T.NOT_STARTED, T.PENDING, T.PROCESSING)]
    if open_:
        return RequestStatus.RECEIVED if all(s is T.NOT_STARTED for s in seen) else RequestStatus.PROCESSING
    if any(s is T.ERROR for s in seen):
        return RequestStatus.ERROR
    return RequestStatus.COMPLETE
