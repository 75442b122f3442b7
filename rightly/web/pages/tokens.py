"""Super admin: API tokens. The list (never a secret), create (the secret shown once, on the page
the form answers with, which is not cached), revoke. The same ``services.tokens`` as the API,
which also writes their audit entries."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from rightly.faces.auth import Principal, runtime_of
from rightly.services import tokens, users
from rightly.services.errors import ServiceError
from rightly.web.render import render

router = APIRouter()


async def _tokens(request: Request, status: int = 200, **context: object) -> Response:
    rt = runtime_of(request)
    async with rt.db.session() as s:
        listed = [tokens.token_view(c) for c in await tokens.list_tokens(s)]
        people = [u.email for u in await users.list_users(s) if not u.disabled]
    listed.sort(key=lambda t: (t["revoked_at"] is not None, t["created_at"] or ""))
    context.setdefault("form", {"user": "", "name": ""})
    return render(request, "tokens.html", status, tokens=listed, people=people, **context)


@router.get("/tokens")
async def tokens_page(request: Request) -> Response:
    return await _tokens(request)


@router.post("/tokens")
async def create_token_submit(request: Request) -> Response:
    form = await request.form()
    user, name = str(form.get("user") or "").strip(), str(form.get("name") or "").strip()
    principal: Principal = request.state.principal
    rt = runtime_of(request)
    async with rt.db.session() as s:
        try:
            cred, secret = await tokens.create_token(s, rt.clock, principal.actor, user, name)
        except ServiceError as exc:
            return await _tokens(request, 422, form={"user": user, "name": name}, error=str(exc))
        await s.refresh(cred, ["user"])
        created = tokens.token_view(cred)
    return render(request, "token_created.html", 201, token=created, secret=secret)


@router.post("/tokens/{token_id}/revoke")
async def revoke_token_submit(token_id: str, request: Request) -> Response:
    principal: Principal = request.state.principal
    rt = runtime_of(request)
    async with rt.db.session() as s:
        try:
            await tokens.revoke_token(s, rt.clock, principal.actor, token_id)
        except ServiceError as exc:
            return render(request, "error.html", exc.status_code, title="Could not revoke", detail=str(exc))
    return RedirectResponse("/tokens?notice=token-revoked", status_code=303)
