"""Requests: the list with filters, one request's page, the new request form, cancel and retry.

The list and a request's page each have a fragment route (``/requests/table``,
``/requests/{id}/status``) that renders just their changing parts, for ``static/live.js`` to swap
in while the work is unfinished; each fragment says whether there is still anything to follow."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from rightly.domain.enums import CLOCK_RUNNING, TERMINAL_REQUEST, RequestStatus, RequestType, TaskStatus
from rightly.domain.regulations import LABELS, Regulation
from rightly.faces.auth import Principal, runtime_of
from rightly.services import audit, deadlines, messages, review
from rightly.services import requests as svc
from rightly.services.errors import NotFound, ServiceError
from rightly.store.models import Task
from rightly.web.render import not_found, render

router = APIRouter()
PAGE_SIZE = 50


def _principal(request: Request) -> Principal:
    principal: Principal = request.state.principal
    return principal


def _listing(request: Request) -> dict[str, Any]:
    q = request.query_params
    status = q.get("status") if q.get("status") in set(RequestStatus) else None
    kind = q.get("type") if q.get("type") in set(RequestType) else None
    email = (q.get("email") or "").strip()[:320] or None
    try:
        page = max(1, min(int(q.get("page") or 1), 10_000))
    except ValueError:
        page = 1
    return {"status": status, "kind": kind, "email": email, "page": page}


async def _requests_context(request: Request) -> dict[str, Any]:
    wanted = _listing(request)
    page = wanted.pop("page")
    rt = runtime_of(request)
    async with rt.db.session() as s:
        items, total = await svc.list_requests(s, **wanted, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    filters = {"status": wanted["status"] or "", "type": wanted["kind"] or "", "email": wanted["email"] or ""}
    return {
        "items": items,
        "total": total,
        "page": page,
        "pages": max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE),
        "filters": filters,
        "live_src": "/requests/table?" + urlencode({k: v for k, v in filters.items() if v} | {"page": page}),
        "live": any(r.status not in TERMINAL_REQUEST for r in items),
        "now": rt.clock.now(),
    }


@router.get("/requests")
async def requests_page(request: Request) -> Response:
    context = await _requests_context(request)
    return render(request, "requests.html", statuses=list(RequestStatus), types=list(RequestType), **context)


@router.get("/requests/table")
async def requests_table_fragment(request: Request) -> Response:
    """The list's table alone, refreshed by live.js while a request on this page is unfinished."""
    return render(request, "_requests_live.html", **await _requests_context(request))


def _regulations(request: Request) -> list[tuple[str, str]]:
    default = runtime_of(request).settings.default_regulation
    return [(r.value, LABELS[r] + (" (the default)" if r.value == default else "")) for r in Regulation]


@router.get("/requests/new")
async def new_request_page(request: Request) -> Response:
    form = {
        "type": "access",
        "email": "",
        "user_id": "",
        "regulation": runtime_of(request).settings.default_regulation,
        "verified": False,
    }
    return render(request, "request_new.html", form=form, regulations=_regulations(request))


@router.post("/requests/new")
async def new_request_submit(request: Request) -> Response:
    form = await request.form()
    data: dict[str, Any] = {
        k: str(form.get(k) or "").strip() for k in ("type", "email", "user_id", "regulation")
    }
    data["verified"] = form.get("verified") == "true"
    regulations = _regulations(request)
    if data["type"] not in set(RequestType):
        return render(
            request,
            "request_new.html",
            422,
            form=data,
            regulations=regulations,
            error="Choose access or deletion.",
        )
    rt = runtime_of(request)
    principal = _principal(request)

    async with rt.db.session() as s:
        try:
            req, _ = await svc.submit(
                s,
                rt,
                principal.actor,
                data["type"],
                data["email"] or None,
                data["user_id"] or None,
                verified=data["verified"],
                regulation=data["regulation"] or None,
            )
        except ServiceError as exc:
            return render(
                request, "request_new.html", 422, form=data, regulations=regulations, error=str(exc)
            )
    notice = "submitted" if req.status != RequestStatus.PENDING_VERIFICATION else "verification-sent"
    return RedirectResponse(f"/requests/{req.id}?notice={notice}", status_code=303)


def _vendor_calls(entries: list[dict[str, Any]], task: Task) -> list[dict[str, Any]]:
    return [e for e in entries if e["vendor_call"] is not None and (e["detail"] or {}).get("task") == task.id]


async def _request_context(request: Request, request_id: str) -> dict[str, Any]:
    rt = runtime_of(request)
    async with rt.db.session() as s:
        req = await svc.get_request(s, request_id)
        entries, _ = await audit.list_entries(s, audit.AuditFilter(target=f"request:{req.id}"), limit=200)
    timeline = list(reversed(entries))
    tasks: list[dict[str, Any]] = [
        {
            "task": t,
            "label": rt.registry.get(t.connection.vendor).label,
            "view": svc.task_view(t),
            "calls": _vendor_calls(timeline, t),
            "records": [r for r in (t.records or []) if isinstance(r, dict)],
        }
        for t in req.tasks
    ]
    open_ = req.status not in TERMINAL_REQUEST
    async with rt.db.session() as s:
        sent, _ = await messages.list_messages(s, request_id=req.id, limit=50)
    return {
        "messages": sent,
        "can_extend": req.extended_at is None and req.status in CLOCK_RUNNING and req.received_at is not None,
        "can_review": req.status == RequestStatus.PENDING_REVIEW,
        "regulation_label": LABELS.get(Regulation(req.regulation), req.regulation)
        if req.regulation in set(Regulation)
        else req.regulation,
        "req": req,
        "tasks": tasks,
        "timeline": timeline,
        "live": open_,
        "live_src": f"/requests/{req.id}/status",
        "can_cancel": open_,
        "can_retry": any(t.status in (TaskStatus.ERROR, TaskStatus.CANCELED) for t in req.tasks),
        "record_count": sum(len(t["records"]) for t in tasks),
        "now": rt.clock.now(),
    }


@router.get("/requests/{request_id}")
async def request_page(request_id: str, request: Request) -> Response:
    try:
        context = await _request_context(request, request_id)
    except NotFound as exc:
        return not_found(request, "request", exc)
    return render(request, "request.html", **context)


@router.get("/requests/{request_id}/status")
async def request_status_fragment(request_id: str, request: Request) -> Response:
    """The request's changing parts alone, refreshed by live.js until the request is terminal."""
    try:
        context = await _request_context(request, request_id)
    except NotFound as exc:
        return not_found(request, "request", exc)
    return render(request, "_request_live.html", **context)


async def _act(request: Request, request_id: str, action: str) -> Response:
    rt = runtime_of(request)
    call = svc.cancel if action == "cancel" else svc.retry
    async with rt.db.session() as s:
        try:
            await call(s, rt, _principal(request).actor, request_id)
        except ServiceError as exc:
            return render(
                request, "error.html", exc.status_code, title=f"Could not {action}", detail=str(exc)
            )
    notice = "canceled" if action == "cancel" else "retried"
    return RedirectResponse(f"/requests/{request_id}?notice={notice}", status_code=303)


async def _decide(request: Request, request_id: str, action: str) -> Response:
    """Extend, approve or deny: the service call, or the error page saying why not."""
    form = await request.form()
    reason = str(form.get("reason") or "")
    rt = runtime_of(request)
    actor = _principal(request).actor
    async with rt.db.session() as s:
        try:
            if action == "extend":
                await deadlines.extend(s, rt, actor, request_id, reason)
            elif action == "approve":
                await review.approve(s, rt, actor, request_id)
            else:
                await review.deny(s, rt, actor, request_id, reason)
        except ServiceError as exc:
            return render(
                request, "error.html", exc.status_code, title=f"Could not {action}", detail=str(exc)
            )
    notice = {"extend": "extended", "approve": "approved", "deny": "denied"}[action]
    return RedirectResponse(f"/requests/{request_id}?notice={notice}", status_code=303)


@router.post("/requests/{request_id}/extend")
async def extend_request_submit(request_id: str, request: Request) -> Response:
    return await _decide(request, request_id, "extend")


@router.post("/requests/{request_id}/approve")
async def approve_request_submit(request_id: str, request: Request) -> Response:
    return await _decide(request, request_id, "approve")


@router.post("/requests/{request_id}/deny")
async def deny_request_submit(request_id: str, request: Request) -> Response:
    return await _decide(request, request_id, "deny")


@router.post("/requests/{request_id}/cancel")
async def cancel_request_submit(request_id: str, request: Request) -> Response:
    return await _act(request, request_id, "cancel")


@router.post("/requests/{request_id}/retry")
async def retry_request_submit(request_id: str, request: Request) -> Response:
    return await _act(request, request_id, "retry")
