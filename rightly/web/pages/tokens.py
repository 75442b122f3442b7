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
# The form's choice of lifetimes (days; "" for a token that works until it is revoked).
EXPIRIES = (("30", "30 days"), ("90", "90 days"), ("365", "1 year"), ("", "Never (until revoked)"))


async def _tokens(request: Request, status: int = 200, **context: object) -> Response:
    rt = runtime_of(request)
    async with rt.db.session() as s:
        now = rt.clock.now()
        listed = [tokens.token_view(c, now) for c in await tokens.list_tokens(s)]
        people = [u.email for u in await users.list_users(s) if not u.disabled]
    listed.sort(key=lambda t: (t["revoked_at"] is not None, t["created_at"] or ""))
    context.setdefault("form", {"user": "", "name": "", "expires": "90"})
    return render(request, "tokens.html", status, tokens=listed, people=people, expiries=EXPIRIES, **context)


@router.get("/tokens")
async def tokens_page(request: Request) -> Response:
    return await _tokens(request)


@router.post("/tokens")
async def create_token_submit(request: Request) -> Response:
    form = await request.form()
    user, name = str(form.get("user") or "").strip(), str(form.get("name") or "").strip()
    expires = str(form.get("expires") or "")
    data = {"user": user, "name": name, "expires": expires}
    if expires not in {value for value, _ in EXPIRIES}:
        return await _tokens(request, 422, form=data, error="Choose how long the token works.")
    principal: Principal = request.state.principal
    rt = runtime_of(request)
    async with rt.db.session() as s:
        try:
            cred, secret = await tokens.create_token(
                s, rt.clock, principal.actor, user, name, int(expires) if expires else None
            )
        except ServiceError as exc:
            return await _tokens(request, 422, form=data, error=str(exc))
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
