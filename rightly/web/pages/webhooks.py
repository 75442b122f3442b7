"""Super admin: webhook endpoints (add, with the secret shown once; remove; re-enable; send a test
event) and each endpoint's delivery attempts; the audit chain's check."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from rightly.faces.auth import Principal, runtime_of
from rightly.services import integrity
from rightly.services import webhooks as svc
from rightly.services.errors import NotFound, ServiceError
from rightly.web.render import not_found, render

router = APIRouter()


def _actor(request: Request) -> Principal:
    principal: Principal = request.state.principal
    return principal


async def _list(request: Request, status: int = 200, **context: object) -> Response:
    rt = runtime_of(request)
    async with rt.db.session() as s:
        views = []
        for ep in await svc.list_endpoints(s):
            last = await svc.attempts(s, ep.id, limit=1)
            views.append(svc.endpoint_view(ep, last[0] if last else None))
    context.setdefault(
        "form", {"url": "", "events": ["request.completed", "request.failed"], "description": ""}
    )
    return render(request, "webhooks.html", status, endpoints=views, events=svc.EVENTS, **context)


@router.get("/webhooks")
async def webhooks_page(request: Request) -> Response:
    return await _list(request)


@router.post("/webhooks")
async def add_webhook_submit(request: Request) -> Response:
    form = await request.form()
    url, description = str(form.get("url") or "").strip(), str(form.get("description") or "").strip()
    events = [str(e) for e in form.getlist("events")]
    rt = runtime_of(request)
    async with rt.db.session() as s:
        try:
            ep, secret = await svc.add(s, rt, _actor(request).actor, url, events, description)
        except ServiceError as exc:
            data = {"url": url, "events": events, "description": description}
            return await _list(request, 422, form=data, error=str(exc))
    return render(request, "webhook_created.html", 201, endpoint=svc.endpoint_view(ep), secret=secret)


@router.get("/webhooks/{endpoint_id}")
async def webhook_page(endpoint_id: str, request: Request) -> Response:
    rt = runtime_of(request)
    async with rt.db.session() as s:
        try:
            ep = await svc.get_endpoint(s, endpoint_id)
        except NotFound as exc:
            return not_found(request, "webhook endpoint", exc)
        tries = [svc.attempt_view(a) for a in await svc.attempts(s, ep.id, limit=100)]
    notice = (
        "A test event is queued: it appears below once the worker has sent it."
        if request.query_params.get("notice") == "test-queued"
        else None
    )
    return render(request, "webhook.html", endpoint=svc.endpoint_view(ep), attempts=tries, queued=notice)


async def _act(request: Request, endpoint_id: str, action: str) -> Response:
    rt = runtime_of(request)
    actor = _actor(request).actor
    async with rt.db.session() as s:
        try:
            if action == "test":
                await svc.send_test(s, rt, actor, endpoint_id)
            elif action == "enable":
                await svc.enable(s, rt, actor, endpoint_id)
            else:
                await svc.remove(s, rt, actor, endpoint_id)
        except ServiceError as exc:
            return render(
                request, "error.html", exc.status_code, title=f"Could not {action}", detail=str(exc)
            )
    if action == "remove":
        return RedirectResponse("/webhooks?notice=saved", status_code=303)
    suffix = "?notice=test-queued" if action == "test" else "?notice=saved"
    return RedirectResponse(f"/webhooks/{endpoint_id}{suffix}", status_code=303)


@router.post("/webhooks/{endpoint_id}/test")
async def test_webhook_submit(endpoint_id: str, request: Request) -> Response:
    return await _act(request, endpoint_id, "test")


@router.post("/webhooks/{endpoint_id}/enable")
async def enable_webhook_submit(endpoint_id: str, request: Request) -> Response:
    return await _act(request, endpoint_id, "enable")


@router.post("/webhooks/{endpoint_id}/remove")
async def remove_webhook_submit(endpoint_id: str, request: Request) -> Response:
    return await _act(request, endpoint_id, "remove")


@router.get("/audit/verify")
async def audit_verify_page(request: Request) -> Response:
    rt = runtime_of(request)
    async with rt.db.session() as s:
        reports = await integrity.verify(s)
    return render(request, "audit_verify.html", reports=reports, ok=all(r.ok for r in reports))
