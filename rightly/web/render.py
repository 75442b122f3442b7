"""Rendering a page: the Jinja2 environment and what every template may use."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from rightly.domain.clock import iso
from rightly.domain.roles import Permission
from rightly.faces.auth import Principal
from rightly.web.security import LOGIN_CSRF_COOKIE, csrf_token

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))

# Fixed messages a redirect may name (?notice=...): never echo free text from a URL.
NOTICES = {
    "signed-out": "You are signed out.",
    "connected": "Connected: every check passed and the connection is saved.",
    "saved": "Saved.",
    "submitted": "Request submitted; it is running against every connection.",
    "canceled": "The request's unfinished integrations are canceled.",
    "retried": "The failed or canceled integrations will run again.",
    "invited": "User added.",
    "user-updated": "User updated.",
    "token-revoked": "Token revoked: it no longer opens the API.",
    "verification-sent": "Request saved; the subject was emailed a link to confirm it. It runs once they do.",
    "extended": "Deadline extended; the person is told why and the new deadline.",
    "approved": "Approved: the request runs against every connection.",
    "denied": "Denied; the person is told the reason.",
}


def _notice(query: Mapping[str, str]) -> str | None:
    key = query.get("notice", "")
    if key == "removed":  # the one notice with a number in it, checked to be one
        n = query.get("canceled", "")
        if not (n.isdigit() and len(n) <= 9):
            return "The connection is removed."
        tasks = "1 unfinished task was" if int(n) == 1 else f"{int(n)} unfinished tasks were"
        return f"The connection is removed; {tasks} canceled. Their evidence is kept."
    return NOTICES.get(key)


def _when(ts: float | str | None) -> str:
    if ts is None:
        return "—"
    text = iso(ts) if isinstance(ts, int | float) else ts
    return (text or "—").replace("T", " ").replace("Z", " UTC")


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


_TIME_WORDS = ("seen", "time", "date", "_at", "ts")


def _is_time(key: Any) -> bool:
    """A field whose numbers are epoch seconds (``first_seen``, ``last_seen``, ``ts``...)."""
    name = str(key).lower()
    return any(name == w or name.endswith(w) for w in _TIME_WORDS)


def _columns(rows: list[Any]) -> list[str]:
    cols: list[str] = []
    for row in rows:
        if isinstance(row, Mapping):
            cols += [str(k) for k in row if str(k) not in cols]
    return cols


def _when_any(ts: Any) -> str:
    """Epoch seconds (or milliseconds, as some vendors send) or an ISO string, as a UTC time."""
    if isinstance(ts, int | float) and not isinstance(ts, bool) and ts > 1e11:
        ts = ts / 1000
    return _when(ts)


def _label(value: str | None) -> str:
    return (value or "").replace("_", " ").replace("-", " ")


templates.env.filters["when"] = _when_any
templates.env.filters["plural"] = _plural
templates.env.filters["is_time"] = _is_time
templates.env.filters["columns"] = _columns
templates.env.filters["pretty"] = _pretty
templates.env.filters["label"] = _label
templates.env.globals["Permission"] = Permission


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    principal: Principal | None = getattr(request.state, "principal", None)
    notice = _notice(request.query_params)
    response = templates.TemplateResponse(
        request,
        name,
        {
            "me": principal,
            "may": (lambda p: principal is not None and principal.may(p)),
            "csrf": csrf_token(request),
            "notice": notice,
            "path": request.url.path,
            **context,
        },
        status_code=status_code,
    )
    if login := getattr(request.state, "login_csrf", None):
        response.set_cookie(
            LOGIN_CSRF_COOKIE,
            login,
            max_age=3600,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
        )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def not_found(request: Request, what: str, exc: Exception) -> HTMLResponse:
    """The 404 page for a missing ``what`` ("connection", "request"), saying which one."""
    return render(request, "error.html", 404, title=f"No such {what}", detail=str(exc))
