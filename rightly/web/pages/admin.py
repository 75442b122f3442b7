"""Super admin: users (invite with a role, change roles, disable) and the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from rightly.domain.roles import Role
from rightly.faces.auth import Principal, runtime_of
from rightly.services import audit, users
from rightly.services.errors import ServiceError
from rightly.web.render import render

router = APIRouter()
PAGE_SIZE = 50


def _principal(request: Request) -> Principal:
    principal: Principal = request.state.principal
    return principal


async def _users(request: Request, status: int = 200, **context: object) -> Response:
    rt = runtime_of(request)
    async with rt.db.session() as s:
        people = [users.user_view(u) for u in await users.list_users(s)]
    context.setdefault("form", {"email": "", "role": Role.VIEWER.value})
    return render(request, "users.html", status, people=people, roles=list(Role), **context)


@router.get("/users")
async def users_page(request: Request) -> Response:
    return await _users(request)


@router.post("/users")
async def invite_user_submit(request: Request) -> Response:
    form = await request.form()
    email, role = str(form.get("email") or "").strip(), str(form.get("role") or "")
    password = str(form.get("password") or "") or None
    rt = runtime_of(request)
    async with rt.db.session() as s:
        try:
            await users.add_user(s, rt.clock, _principal(request).actor, email, role, password)
        except ServiceError as exc:
            return await _users(request, 422, form={"email": email, "role": role}, error=str(exc))
    return RedirectResponse("/users?notice=invited", status_code=303)


@router.post("/users/{user_id}")
async def update_user_submit(user_id: str, request: Request) -> Response:
    form = await request.form()
    rt = runtime_of(request)
    actor = _principal(request).actor
    async with rt.db.session() as s:
        try:
            if role := str(form.get("role") or ""):
                await users.set_role(s, rt.clock, actor, user_id, role)
            if (disabled := form.get("disabled")) in ("true", "false"):
                if disabled == "true" and user_id == _principal(request).user_id:
                    return await _users(request, 409, error="You cannot disable yourself.")
                await users.set_disabled(s, rt.clock, actor, user_id, disabled == "true")
        except ServiceError as exc:
            return await _users(request, exc.status_code, error=str(exc))
    return RedirectResponse("/users?notice=user-updated", status_code=303)


def _epoch(day: str) -> float | None:
    try:
        return datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() if day else None
    except ValueError:
        return None


@router.get("/audit")
async def audit_page(request: Request) -> Response:
    q = request.query_params
    filters = {k: (q.get(k) or "").strip()[:320] for k in ("actor", "action", "target", "since", "until")}
    try:
        page = max(1, min(int(q.get("page") or 1), 10_000))
    except ValueError:
        page = 1
    where = audit.AuditFilter(
        filters["actor"] or None,
        filters["action"] or None,
        filters["target"] or None,
        _epoch(filters["since"]),
        _epoch(filters["until"]),
    )
    rt = runtime_of(request)
    async with rt.db.session() as s:
        rows, total = await audit.list_entries(s, where, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    query = urlencode({k: v for k, v in filters.items() if v})
    return render(
        request,
        "audit.html",
        rows=rows,
        total=total,
        page=page,
        pages=max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE),
        filters=filters,
        query=query,
    )
