"""/connections: the configured integrations. No answer ever holds a secret.

Built for a registry (``router(registry)``): the bodies are made from the connectors' settings
models. (No ``from __future__ import annotations`` here: FastAPI reads these routes' annotations,
which name models made at run time.)"""

from typing import Any

from fastapi import APIRouter, Body, Path
from sqlalchemy.ext.asyncio import AsyncSession

from rightly.api.connection_schemas import (
    Check,
    create_body,
    out_model,
    removed_model,
    tested_model,
    update_body,
)
from rightly.api.deps import PrincipalDep, RuntimeDep, SessionDep
from rightly.api.errors import CONFLICT, NOT_FOUND
from rightly.connectors.base import Registry
from rightly.faces.auth import Principal
from rightly.services import connections as svc
from rightly.services.runtime import Runtime
from rightly.store.models import Connection

# A connection's name (at most 100 characters) or id.
ConnectionId = Path(min_length=1, max_length=100, description="The connection's name or id")


def router(registry: Registry) -> APIRouter:
    api = APIRouter(prefix="/connections", tags=["connections"])
    Create: Any = create_body(registry)
    Update: Any = update_body(registry)
    Out: Any = out_model(registry)
    examples: Any = {c.vendor: {"value": c.example} for c in registry if c.example} or None
    labels = " or ".join(c.label for c in registry)

    def out(rt: Runtime, conn: Connection) -> Any:
        return Out(**svc.connection_view(rt, conn))

    Tested: Any = tested_model(Out)
    Removed: Any = removed_model(Out)

    @api.get("", response_model=list[Out], summary="List connections")
    async def list_connections(session: AsyncSession = SessionDep, rt: Runtime = RuntimeDep) -> Any:
        return [out(rt, c) for c in await svc.list_connections(session)]

    @api.post(
        "",
        status_code=201,
        response_model=Out,
        responses={**CONFLICT},
        summary=f"Connect {labels} (checked with the vendor first; saved only if every check passes)",
    )
    async def create_connection(
        data: Create = Body(openapi_examples=examples),
        session: AsyncSession = SessionDep,
        rt: Runtime = RuntimeDep,
        principal: Principal = PrincipalDep,
    ) -> Any:
        body = svc.ConnectionInput.model_validate(data.model_dump(exclude_unset=True))
        conn, _ = await svc.connect(session, rt, principal.actor, body)
        return out(rt, conn)

    @api.get("/{connection_id}", response_model=Out, responses={**NOT_FOUND}, summary="Show a connection")
    async def get_connection(
        connection_id: str = ConnectionId, session: AsyncSession = SessionDep, rt: Runtime = RuntimeDep
    ) -> Any:
        return out(rt, await svc.get_connection(session, connection_id))

    @api.patch(
        "/{connection_id}",
        response_model=Out,
        responses={**NOT_FOUND, **CONFLICT},
        summary="Change a connection (a new secret is checked with the vendor first; changing where calls "
        "go needs the secret again)",
    )
    async def update_connection(
        patch: Update,
        connection_id: str = ConnectionId,
        session: AsyncSession = SessionDep,
        rt: Runtime = RuntimeDep,
        principal: Principal = PrincipalDep,
    ) -> Any:
        body = svc.ConnectionPatch.model_validate(patch.model_dump(exclude_unset=True))
        conn, _ = await svc.update_connection(session, rt, principal.actor, connection_id, body)
        return out(rt, conn)

    @api.post(
        "/{connection_id}/test",
        response_model=Tested,
        responses={**NOT_FOUND},
        summary="Check a connection's credentials and permissions with the vendor now",
    )
    async def test_connection(
        connection_id: str = ConnectionId,
        session: AsyncSession = SessionDep,
        rt: Runtime = RuntimeDep,
        principal: Principal = PrincipalDep,
    ) -> Any:
        conn, validation = await svc.test_connection(session, rt, principal.actor, connection_id)
        checks = [Check(name=c.name, ok=c.ok, detail=c.detail) for c in validation.checks]
        return Tested(connection=out(rt, conn), ok=validation.ok, checks=checks)

    @api.delete(
        "/{connection_id}",
        response_model=Removed,
        responses={**NOT_FOUND},
        summary="Remove a connection; its unfinished tasks are canceled, its evidence is kept",
    )
    async def remove_connection(
        connection_id: str = ConnectionId,
        session: AsyncSession = SessionDep,
        rt: Runtime = RuntimeDep,
        principal: Principal = PrincipalDep,
    ) -> Any:
        conn, canceled = await svc.remove_connection(session, rt, principal.actor, connection_id)
        return Removed(connection=out(rt, conn), canceled_tasks=canceled)

    return api
