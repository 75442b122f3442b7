"""How the API says no: every error is JSON with a ``detail`` (and, for bad input, one message per field)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException
from starlette.routing import Match

from rightly.services.errors import ServiceError, ValidationFailed
from rightly.store.db import DATABASE_BUSY, is_busy
from rightly.store.secrets import SecretError


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """An error: what went wrong, and for bad input which field and why."""

    detail: str
    errors: list[FieldError] | None = None
    checks: list[dict[str, Any]] | None = None


def problem(status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    body = Problem(detail=detail, **extra).model_dump(exclude_none=True)
    headers = dict(headers or {})
    if status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    return JSONResponse(body, status_code=status, headers=headers or None)


# Every route can answer these; routes add 404/409 where they apply.
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "Not signed in, or the token is invalid, expired or revoked"},
    403: {"model": Problem, "description": "Signed in, but the role does not allow this"},
    413: {"model": Problem, "description": "The body is larger than 64 KiB"},
    422: {"model": Problem, "description": "Bad input: one message per field"},
    503: {"model": Problem, "description": "The database is busy (another process holds a write lock)"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "No such object"}}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": Problem, "description": "Not possible in this state"}
}


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:] if parts[0] == "body" else parts
    return ".".join(parts) or "body"


def field_errors(errors: Any) -> list[FieldError]:
    out = []
    for e in errors:
        message = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        out.append(FieldError(field=_field(e.get("loc", ())), message=message))
    return out


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return problem(422, "invalid input", errors=field_errors(exc.errors()))

    @app.exception_handler(ValidationFailed)
    async def _rejected(_: Request, exc: ValidationFailed) -> JSONResponse:
        return problem(422, str(exc), checks=exc.checks)

    @app.exception_handler(ServiceError)
    async def _service(_: Request, exc: ServiceError) -> JSONResponse:
        errors = [FieldError(**e) for e in getattr(exc, "errors", [])] or None
        return problem(exc.status_code, str(exc), errors=errors)

    @app.exception_handler(SecretError)
    async def _secret(_: Request, exc: SecretError) -> JSONResponse:
        return problem(409, str(exc))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        # Keep the exception's own headers: a 401's WWW-Authenticate, a 405's Allow (RFC 9110),
        # which names every method of the path (Starlette's names only its first route's).
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(sorted(_allowed_methods(request)))
        return problem(exc.status_code, str(exc.detail), headers=headers)

    app.add_exception_handler(OperationalError, database_busy)


def _allowed_methods(request: Request) -> set[str]:
    """Every method some route of the app serves at this request's path."""
    routes: Any = getattr(request.app, "routes", [])
    try:
        from fastapi.routing import iter_route_contexts  # FastAPI's included routers, flattened

        routes = list(iter_route_contexts(routes))
    except ImportError:
        pass
    allowed: set[str] = set()
    for route in routes:
        methods = getattr(route, "methods", None)
        try:
            match, _ = route.matches(request.scope)
        except AttributeError:
            continue
        if methods and match is not Match.NONE:
            allowed |= set(methods)
    return allowed or {"GET"}


async def database_busy(_: Request, exc: Exception) -> JSONResponse:
    """503 when another process held SQLite's write lock past the busy timeout (never the SQL);
    any other database failure stays a 500."""
    if not is_busy(exc):
        raise exc
    return problem(503, DATABASE_BUSY)
