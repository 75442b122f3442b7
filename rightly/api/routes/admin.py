"""Super-admin routes: the audit trail, users and their roles, API tokens."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Path, Query
from sqlalchemy.ext.asyncio import AsyncSession

from rightly.api.deps import PrincipalDep, RuntimeDep, SessionDep
from rightly.api.errors import CONFLICT, NOT_FOUND
from rightly.api.schemas import (
    AuditEntryOut,
    Page,
    TokenCreate,
    TokenCreated,
    TokenOut,
    UserCreate,
    UserOut,
    UserUpdate,
)
from rightly.faces.auth import Principal
from rightly.services import audit, tokens, users
from rightly.services.runtime import Runtime

router = APIRouter()


def _epoch(value: datetime | None) -> float | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


@router.get(
    "/audit",
    response_model=Page[AuditEntryOut],
    tags=["audit"],
    summary="The audit trail, newest first: people's actions and the system's vendor calls",
)
async def list_audit(
    actor: str | None = Query(default=None, max_length=320, examples=["admin@example.com"]),
    action: str | None = Query(
        default=None,
        max_length=50,
        description="An action, or a prefix such as 'connection'",
        examples=["request"],
    ),
    target: str | None = Query(default=None, max_length=200, examples=["request:req_0a1b2c3d4e5f60718293"]),
    since: datetime | None = Query(default=None, description="Entries at or after this time (ISO 8601)"),
    until: datetime | None = Query(default=None, description="Entries before this time (ISO 8601)"),
    limit: int = Query(default=50, ge=1, le=200),
    offset: int = Query(default=0, ge=0, le=1_000_000),
    session: AsyncSession = SessionDep,
) -> Page[AuditEntryOut]:
    where = audit.AuditFilter(actor, action, target, _epoch(since), _epoch(until))
    rows, total = await audit.list_entries(session, where, limit=limit, offset=offset)
    return Page[AuditEntryOut](
        items=[AuditEntryOut.model_validate(r) for r in rows], total=total, limit=limit, offset=offset
    )


@router.get("/users", response_model=list[UserOut], tags=["users"], summary="List users")
async def list_users(session: AsyncSession = SessionDep) -> list[UserOut]:
    return [UserOut(**users.user_view(u)) for u in await users.list_users(session)]


@router.post(
    "/users",
    status_code=201,
    response_model=UserOut,
    responses={**CONFLICT},
    tags=["users"],
    summary="Add a user",
)
async def add_user(
    data: UserCreate,
    session: AsyncSession = SessionDep,
    rt: Runtime = RuntimeDep,
    principal: Principal = PrincipalDep,
) -> UserOut:
    password = data.password.get_secret_value() if data.password else None
    user = await users.add_user(session, rt.clock, principal.actor, data.email, data.role, password)
    return UserOut(**users.user_view(user))


@router.patch(
    "/users/{user_id}",
    response_model=UserOut,
    responses={**NOT_FOUND},
    tags=["users"],
    summary="Change a user's role, or disable (and sign out) or re-enable them",
)
async def update_user(
    data: UserUpdate,
    user_id: str = Path(min_length=1, max_length=320, description="The user's id or email"),
    session: AsyncSession = SessionDep,
    rt: Runtime = RuntimeDep,
    principal: Principal = PrincipalDep,
) -> UserOut:
    user = await users.get_user(session, user_id)
    if data.role is not None:
        user = await users.set_role(session, rt.clock, principal.actor, user.id, data.role)
    if data.disabled is not None:
        user = await users.set_disabled(session, rt.clock, principal.actor, user.id, data.disabled)
    return UserOut(**users.user_view(user))


@router.get(
    "/tokens",
    response_model=list[TokenOut],
    responses={**NOT_FOUND},
    tags=["tokens"],
    summary="List API tokens",
)
async def list_tokens(
    user: str | None = Query(default=None, max_length=320, description="Only this user's (email or id)"),
    session: AsyncSession = SessionDep,
    rt: Runtime = RuntimeDep,
) -> list[TokenOut]:
    now = rt.clock.now()
    return [TokenOut(**tokens.token_view(c, now)) for c in await tokens.list_tokens(session, user)]


@router.post(
    "/tokens",
    status_code=201,
    response_model=TokenCreated,
    responses={**NOT_FOUND, **CONFLICT},
    tags=["tokens"],
    summary="Create an API token for a user (the secret is in this answer only)",
)
async def create_token(
    data: TokenCreate,
    session: AsyncSession = SessionDep,
    rt: Runtime = RuntimeDep,
    principal: Principal = PrincipalDep,
) -> TokenCreated:
    cred, secret = await tokens.create_token(
        session, rt.clock, principal.actor, data.user, data.name, data.expires_in_days
    )
    await session.refresh(cred, ["user"])
    return TokenCreated(**tokens.token_view(cred), token=secret)


@router.delete(
    "/tokens/{token_id}",
    response_model=TokenOut,
    responses={**NOT_FOUND},
    tags=["tokens"],
    summary="Revoke an API token",
)
async def revoke_token(
    token_id: str = Path(min_length=1, max_length=64),
    session: AsyncSession = SessionDep,
    rt: Runtime = RuntimeDep,
    principal: Principal = PrincipalDep,
) -> TokenOut:
    return TokenOut(
        **tokens.token_view(await tokens.revoke_token(session, rt.clock, principal.actor, token_id))
    )
