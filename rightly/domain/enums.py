"""The words of DESIGN.md's vocabulary, as enums. No vendor's words: those live with its connector."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class RequestType(StrEnum):
    ACCESS = "access"
    DELETION = "deletion"


class RequestStatus(StrEnum):
    """A request's status. ``pending_verification`` (the person has not yet proven they own the
    email) and ``pending_review`` (verified, waiting for a request manager under the review gate)
    come before ``received``: a request in either has no tasks and runs against nothing. It may
    end before running: ``closed_unverified`` (the link was never used within its 7 days) or
    ``denied`` (a request manager refused it, with a reason)."""

    PENDING_VERIFICATION = "pending_verification"
    PENDING_REVIEW = "pending_review"
    RECEIVED = "received"
    PROCESSING = "processing"
    COMPLETE = "complete"
    ERROR = "error"
    CANCELED = "canceled"
    DENIED = "denied"
    CLOSED_UNVERIFIED = "closed_unverified"


class TaskStatus(StrEnum):
    NOT_STARTED = "not_started"
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETE = "complete"
    ERROR = "error"
    CANCELED = "canceled"


class Priority(IntEnum):
    """Budget priority: lower runs first."""

    INTERACTIVE = 0  # access requests, connection tests
    SUBMIT = 1  # deletion submissions (and the lookups that resolve them)
    VERIFY = 2  # verification lookups: only what is left


class ConnectionHealth(StrEnum):
    OK = "ok"
    FAILING = "failing"
    UNTESTED = "untested"


TERMINAL_TASK = frozenset({TaskStatus.COMPLETE, TaskStatus.ERROR, TaskStatus.CANCELED})
TERMINAL_REQUEST = frozenset(
    {
        RequestStatus.COMPLETE,
        RequestStatus.ERROR,
        RequestStatus.CANCELED,
        RequestStatus.DENIED,
        RequestStatus.CLOSED_UNVERIFIED,
    }
)
# Before a request runs: no tasks yet, so nothing rolls its status up from them.
HELD_REQUEST = frozenset({RequestStatus.PENDING_VERIFICATION, RequestStatus.PENDING_REVIEW})
# The legal clock runs: what the dashboard counts as due soon or overdue.
CLOCK_RUNNING = frozenset({RequestStatus.PENDING_REVIEW, RequestStatus.RECEIVED, RequestStatus.PROCESSING})
