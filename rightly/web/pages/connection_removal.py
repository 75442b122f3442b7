"""Removing a connection: a confirmation page that says how many unfinished tasks will be
canceled, then the removal (``services.connections.remove_connection``), which reports how many
it did cancel. The connection's tasks and evidence stay."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from rightly.faces.auth import Principal, runtime_of
from rightly.services import connections as svc
from rightly.services.errors import NotFound, ServiceError
from rightly.web.render import not_found, render

router = APIRouter()


@router.get("/connections/{connection_id}/remove")
async def remove_connection_page(connection_id: str, request: Request) -> Response:
    rt = runtime_of(request)
    async with rt.db.session() as s:
        try:
            conn = await svc.get_connection(s, connection_id)
        except NotFound as exc:
            return not_found(request, "connection", exc)
        unfinished = await svc.count_open_tasks(s, conn.id)
    return render(
        request, "connection_remove.html", conn=svc.connection_view(rt, conn), unfinished=unfinished
    )


@router.post("/connections/{connection_id}/remove")
async def remove_connection_submit(connection_id: str, request: Request) -> Response:
    rt = runtime_of(request)
    principal: Principal = request.state.principal
    async with rt.db.session() as s:
        try:
            _, canceled = await svc.remove_connection(s, rt, principal.actor, connection_id)
        except NotFound as exc:
            return not_found(request, "connection", exc)
        except ServiceError as exc:
            return render(request, "error.html", exc.status_code, title="Could not remove", detail=str(exc))
    return RedirectResponse(f"/connections?notice=removed&canceled={canceled}", status_code=303)
