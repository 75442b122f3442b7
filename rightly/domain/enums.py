"""The words of DESIGN.md's vocabulary, as enums. No vendor's words: those live with its connector."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class RequestType(StrEnum):
    ACCESS = "access"
    DELETION = "deletion"


class RequestStatus(StrEnum):
    RECEIVED = "received"
    PROCESSING = "processing"
    COMPLETE = "complete"
    ERROR = "error"
    CANCELED = "canceled"


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
TERMINAL_REQUEST = frozenset({RequestStatus.COMPLETE, RequestStatus.ERROR, RequestStatus.CANCELED})
