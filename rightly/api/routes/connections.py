"""/connections: CleverTap projects. No answer ever holds a passcode."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Body
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from rightly.api.auth import Principal
from rightly.api.deps import PrincipalDep, RuntimeDep, SessionDep, audited
from rightly.api.errors import CONFLICT, NOT_FOUND
from rightly.api.schemas import (
    CONNECTION_EXAMPLE,
    Check,
    ConnectionCreate,
    ConnectionOut,
    ConnectionRemoved,
    ConnectionTested,
    ConnectionUpdate,
)
from rightly.services import audit
from rightly.services import connections as svc
from rightly.services.runtime import Runtime
from rightly.store.models import Connection

router = APIRouter(prefix="/connections", tags=["connections"])


def _out(conn: Connection) -> ConnectionOut:
    return ConnectionOut(**svc.connection_view(conn))


@router.get("", response_model=list[ConnectionOut], summary="List connections")
async def list_connections(session: AsyncSession = SessionDep) -> list[ConnectionOut]:
    return [_out(c) for c in await svc.list_connections(session)]


@router.post(
    "",
    status_code=201,
    response_model=ConnectionOut,
    responses={**CONFLICT},
    summary="Connect a CleverTap project (checked with CleverTap first; saved only if every check passes)",
)
async def create_connection(
    data: ConnectionCreate = Body(openapi_examples={"clevertap": {"value": CONNECTION_EXAMPLE}}),
    session: AsyncSession = SessionDep,
    rt: Runtime = RuntimeDep,
    principal: Principal = PrincipalDep,
) -> ConnectionOut:
    def new_connection(sync: Session) -> str:
        ids = [o.id for o in sync.identity_map.values() if isinstance(o, Connection) and o.name == data.name]
        return f"connection:{ids[0] if ids else data.name}"

    conn, _ = await audited(
        session,
        rt,
        principal,
        "connection.create",
        f"connection:{data.name}",
        lambda: svc.connect(session, rt, data),
        find_target=new_connection,
        detail={"name": data.name, "project_id": data.project_id, "region": data.region},
    )
    return _out(conn)


@router.get(
    "/{connection_id}", response_model=ConnectionOut, responses={**NOT_FOUND}, summary="Show a connection"
)
async def get_connection(connection_id: str, session: AsyncSession = SessionDep) -> ConnectionOut:
    return _out(await svc.get_connection(session, connection_id))


@router.patch(
    "/{connection_id}",
    response_model=ConnectionOut,
    responses={**NOT_FOUND, **CONFLICT},
    summary="Change a connection (a new project, region, passcode or URL is checked with CleverTap first)",
)
async def update_connection(
    connection_id: str,
    patch: ConnectionUpdate,
    session: AsyncSession = SessionDep,
    rt: Runtime = RuntimeDep,
    principal: Principal = PrincipalDep,
) -> ConnectionOut:
    conn = await svc.get_connection(session, connection_id)
    conn, _ = await audited(
        session,
        rt,
        principal,
        "connection.update",
        f"connection:{conn.id}",
        lambda: svc.update_connection(session, rt, conn.id, patch),
        detail={"fields": sorted(patch.model_fields_set)},  # names only: never a passcode
    )
    return _out(conn)


@router.post(
    "/{connection_id}/test",
    response_model=ConnectionTested,
    responses={**NOT_FOUND},
    summary="Check a connection's credentials and delete permission with CleverTap now",
)
async def test_connection(
    connection_id: str,
    session: AsyncSession = SessionDep,
    rt: Runtime = RuntimeDep,
    principal: Principal = PrincipalDep,
) -> ConnectionTested:
    conn, validation = await svc.test_connection(session, rt, connection_id)
    audit.record(
        session,
        principal.actor,
        "connection.test",
        f"connection:{conn.id}",
        rt.clock.now(),
        "ok" if validation.ok else "failed",
        message=validation.problem,
    )
    await session.commit()
    return ConnectionTested(
        connection=_out(conn), ok=validation.ok, checks=[Check(**asdict(c)) for c in validation.checks]
    )


@router.delete(
    "/{connection_id}",
    response_model=ConnectionRemoved,
    responses={**NOT_FOUND},
    summary="Remove a connection; its unfinished tasks are canceled, its evidence is kept",
)
async def remove_connection(
    connection_id: str,
    session: AsyncSession = SessionDep,
    rt: Runtime = RuntimeDep,
    principal: Principal = PrincipalDep,
) -> ConnectionRemoved:
    conn = await svc.get_connection(session, connection_id)
    conn, canceled = await audited(
        session,
        rt,
        principal,
        "connection.remove",
        f"connection:{conn.id}",
        lambda: svc.remove_connection(session, rt, conn.id),
    )
    return ConnectionRemoved(connection=_out(conn), canceled_tasks=canceled)
