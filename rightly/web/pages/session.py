"""Signing in and out, and the dashboard."""

from __future__ import annotations

import math

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from rightly.domain.enums import CLOCK_RUNNING, ConnectionHealth, RequestStatus
from rightly.domain.roles import Permission
from rightly.faces.auth import (
    SESSION_COOKIE,
    runtime_of,
    set_device_cookie,
    set_session_cookie,
    sign_in_client,
)
from rightly.services import connections as conn_svc
from rightly.services import requests as req_svc
from rightly.services import tokens, users, webhooks
from rightly.web.render import render
from rightly.web.security import LOGIN_CSRF_COOKIE

router = APIRouter()

DUE_SOON_DAYS = 7
OPEN = tuple(s.value for s in RequestStatus if s in CLOCK_RUNNING)  # the legal clock runs


def _safe_next(value: str | None) -> str:
    """Only a local path: never send a signed-in browser to another site."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


@router.get("/login")
async def login_page(request: Request) -> Response:
    reason = request.query_params.get("reason")
    message = "Your session has expired; sign in again." if reason == "expired" else None
    return render(
        request, "login.html", next=_safe_next(request.query_params.get("next")), message=message, email=""
    )


@router.post("/login")
async def login_submit(request: Request) -> Response:
    form = await request.form()
    email, password = str(form.get("email") or ""), str(form.get("password") or "")
    next_path = _safe_next(str(form.get("next") or "/"))
    rt = runtime_of(request)
    async with rt.db.session() as s:
        try:
            signed = await users.authenticate(s, rt, email, password, sign_in_client(request))
        except users.TooManyAttempts as exc:
            page = render(
                request, "login.html", 429, next=next_path, email=email, error=f"{str(exc).capitalize()}."
            )
            page.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
            return page
        if signed is None:
            return render(
                request,
                "login.html",
                401,
                next=next_path,
                email=email,
                error="Wrong email or password, or the user is disabled.",
            )
        _, secret = await tokens.start_session(s, rt.clock, signed.user)
    response = RedirectResponse(next_path, status_code=303)
    set_session_cookie(response, request, secret)
    set_device_cookie(response, request, signed.device)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
async def logout_submit(request: Request) -> Response:
    rt = runtime_of(request)
    if secret := request.cookies.get(SESSION_COOKIE):
        async with rt.db.session() as s:
            await tokens.end_session(s, rt.clock, secret)
    response = RedirectResponse("/login?notice=signed-out", status_code=303)
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=request.url.scheme == "https"
    )
    return response


@router.get("/")
async def dashboard_page(request: Request) -> Response:
    rt = runtime_of(request)
    now = rt.clock.now()
    async with rt.db.session() as s:
        counts: dict[str, int] = {}
        for st in RequestStatus:
            _, counts[st.value] = await req_svc.list_requests(s, status=st.value, limit=1)
        open_reqs = []
        for name in OPEN:
            found, _ = await req_svc.list_requests(s, status=name, limit=200)
            open_reqs += found
        conns = await conn_svc.list_connections(s)
        recent_errors, _ = await req_svc.list_requests(s, status=RequestStatus.ERROR.value, limit=10)
        principal = request.state.principal
        alerts = await webhooks.disabled_endpoints(s) if principal.may(Permission.ADMIN) else []
    overdue = sorted((r for r in open_reqs if r.due_at <= now), key=lambda r: r.due_at)
    due_soon = sorted(
        (r for r in open_reqs if now < r.due_at <= now + DUE_SOON_DAYS * 86400), key=lambda r: r.due_at
    )
    stuck = [r for r in open_reqs if any(t.overdue for t in r.tasks) and r not in overdue]
    failing = [c for c in conns if c.health == ConnectionHealth.FAILING]
    return render(
        request,
        "dashboard.html",
        counts=counts,
        overdue=overdue,
        due_soon=due_soon,
        stuck=stuck,
        failing=failing,
        connections=conns,
        errors=recent_errors,
        now=now,
        due_soon_days=DUE_SOON_DAYS,
        webhook_alerts=alerts,
    )
