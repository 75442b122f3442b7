"""The outbox: every message to a person, with its delivery status; a message's parts, for super
admins only (each reading audited: a message may carry a link). Without a mail server configured
this is where the messages wait to be read, in place of a mailbox."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from rightly.faces.auth import Principal, runtime_of
from rightly.services import messages
from rightly.services.errors import NotFound
from rightly.web.render import not_found, render

router = APIRouter()
PAGE_SIZE = 50


@router.get("/outbox")
async def outbox_page(request: Request) -> Response:
    try:
        page = max(1, min(int(request.query_params.get("page") or 1), 10_000))
    except ValueError:
        page = 1
    rt = runtime_of(request)
    async with rt.db.session() as s:
        items, total = await messages.list_messages(s, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    rows = [(m, messages.body_of(rt, m).subject) for m in items]
    return render(
        request,
        "outbox.html",
        rows=rows,
        total=total,
        page=page,
        pages=max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE),
        smtp=bool(rt.settings.smtp_url),
    )


@router.get("/outbox/{message_id}")
async def outbox_message_page(message_id: str, request: Request) -> Response:
    rt = runtime_of(request)
    principal: Principal = request.state.principal
    async with rt.db.session() as s:
        try:
            message, body = await messages.read_message(s, rt, principal.actor, message_id)
        except NotFound as exc:
            return not_found(request, "message", exc)
    return render(request, "outbox_message.html", message=message, body=body)
