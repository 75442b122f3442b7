"""Signing in and out with a browser (a session cookie), who am I, and health checks."""

from __future__ import annotations

import math

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from rightly.api.deps import PrincipalDep, RuntimeDep, SessionDep
from rightly.api.errors import Problem, problem
from rightly.api.schemas import Health, Login, Me
from rightly.domain.roles import Permission
from rightly.faces.auth import (
    SESSION_COOKIE,
    Principal,
    runtime_of,
    set_device_cookie,
    set_session_cookie,
    sign_in_client,
)
from rightly.services import tokens, users
from rightly.services.runtime import Runtime

router = APIRouter()
root = APIRouter()  # served outside /api/v1 (create_app includes it at the root)


def _me(principal: Principal) -> Me:
    return Me(
        id=principal.user_id,
        email=principal.email,
        role=principal.role.value,
        via=principal.via,
        permissions=[p.value for p in Permission if principal.may(p)],
    )


@router.post(
    "/session",
    response_model=Me,
    responses={429: {"model": Problem, "description": "Too many failed sign-ins: wait Retry-After seconds"}},
    tags=["session"],
    summary="Sign in: sets the session cookie (failed sign-ins are throttled per address and per account)",
)
async def login(
    data: Login, request: Request, session: AsyncSession = SessionDep, rt: Runtime = RuntimeDep
) -> Response:
    try:
        signed = await users.authenticate(
            session, rt, data.email, data.password.get_secret_value(), sign_in_client(request)
        )
    except users.TooManyAttempts as exc:
        answer = problem(429, str(exc))
        answer.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        return answer
    if signed is None:
        return problem(401, "wrong email or password, or the user is disabled")
    user = signed.user
    cred, secret = await tokens.start_session(session, rt.clock, user)
    principal = Principal(user.id, user.email, users.parse_role(user.role), "session", cred.id)
    response = JSONResponse(_me(principal).model_dump())
    set_session_cookie(response, request, secret)
    set_device_cookie(response, request, signed.device)
    return response


@router.delete("/session", status_code=204, tags=["session"], summary="Sign out: ends the session")
async def logout(request: Request, session: AsyncSession = SessionDep, rt: Runtime = RuntimeDep) -> Response:
    if secret := request.cookies.get(SESSION_COOKIE):
        await tokens.end_session(session, rt.clock, secret)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


@router.get("/me", response_model=Me, tags=["session"], summary="Who am I, and what may I do")
async def me(principal: Principal = PrincipalDep) -> Me:
    return _me(principal)


@router.get("/healthz", response_model=Health, tags=["health"], summary="Liveness: the process answers")
async def healthz() -> Health:
    """Touches nothing (no database): it answers whenever the event loop does."""
    return Health(status="ok")


@root.get(
    "/healthz",
    response_model=Health,
    tags=["health"],
    summary="Liveness at the root, where probes and load balancers look: the process answers",
)
async def root_healthz() -> Health:
    return await healthz()


@router.get(
    "/readyz",
    response_model=Health,
    responses={503: {"model": Health, "description": "Database unreachable or migrations not current"}},
    tags=["health"],
    summary="Readiness: the database answers, its migrations are current and the in-process worker runs",
)
async def readyz(request: Request) -> Response:
    rt = runtime_of(request)
    try:
        async with rt.db.session() as s:
            await s.execute(text("SELECT 1"))
        current = await rt.db.is_current()
    except Exception as exc:  # any failure to reach the database means "not ready"
        return JSONResponse(
            Health(status="unavailable", detail=f"database unreachable: {type(exc).__name__}").model_dump(),
            status_code=503,
        )
    if not current:
        return JSONResponse(
            Health(status="unavailable", detail="database migrations are not current").model_dump(),
            status_code=503,
        )
    supervisor = getattr(request.app.state, "supervisor", None)
    if supervisor is None:
        return JSONResponse(Health(status="ok").model_dump())
    worker = supervisor.view()
    if not supervisor.healthy:
        detail = (
            "the in-process worker is not running" if not worker["running"] else "its rounds keep failing"
        )
        return JSONResponse(
            Health(status="unavailable", detail=detail, worker=worker).model_dump(), status_code=503
        )
    return JSONResponse(Health(status="ok", worker=worker).model_dump())
