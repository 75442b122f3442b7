"""Errors services raise for the faces to render (CLI: one line and exit 1; API: 4xx JSON)."""

from __future__ import annotations


class ServiceError(Exception):
    """A problem the user can fix; the message says how."""

    status_code = 400


class NotFound(ServiceError):
    status_code = 404


class Conflict(ServiceError):
    status_code = 409


class InvalidInput(ServiceError):
    """Bad input; ``errors`` names the fields: ``[{"field": ..., "message": ...}]``."""

    status_code = 422

    def __init__(self, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


class ValidationFailed(ServiceError):
    """CleverTap did not accept the connection; nothing was saved."""

    status_code = 422

    def __init__(self, message: str, checks: list[dict[str, object]] | None = None) -> None:
        super().__init__(message)
        self.checks = checks or []
