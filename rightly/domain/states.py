"""The request/task state machine. One guarded ``transition`` changes a task's status.

    not_started -> pending -> processing -> complete
         |            |           |     \\-> error
         +------------+-----------+------> canceled
    error / canceled -> pending   (retry)

A request's status is never set directly: it rolls up from its tasks (``rollup``).
"""

from __future__ import annotations

from collections.abc import Iterable

from rightly.domain.enums import RequestStatus, TaskStatus

T = TaskStatus
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


def rollup(statuses: Iterable[str]) -> RequestStatus:
    """A request's status from its tasks' statuses."""
    seen = [TaskStatus(s) for s in statuses]
    if not seen:
        return RequestStatus.RECEIVED
    if all(s is T.CANCELED for s in seen):
        return RequestStatus.CANCELED
    open_ = [s for s in seen if s in (T.NOT_STARTED, T.PENDING, T.PROCESSING)]
    if open_:
        return RequestStatus.RECEIVED if all(s is T.NOT_STARTED for s in seen) else RequestStatus.PROCESSING
    if any(s is T.ERROR for s in seen):
        return RequestStatus.ERROR
    return RequestStatus.COMPLETE
