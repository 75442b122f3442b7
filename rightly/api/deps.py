"""Dependencies the routes share: the runtime, a database session, the caller, audited actions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from rightly.api.auth import Principal, current_principal, runtime_of
from rightly.services import audit
from rightly.services.errors import ServiceError
from rightly.services.runtime import Runtime
from rightly.store.secrets import SecretError

T = TypeVar("T")


def get_runtime(request: Request) -> Runtime:
    return runtime_of(request)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with runtime_of(request).db.session() as session:
        yield session


RuntimeDep = Depends(get_runtime)
SessionDep = Depends(get_session)
PrincipalDep = Depends(current_principal)


async def audited(
    session: AsyncSession,
    rt: Runtime,
    principal: Principal,
    action: str,
    target: str,
    call: Callable[[], Awaitable[T]],
    *,
    find_target: Callable[[Session], str] | None = None,
    detail: dict[str, Any] | None = None,
) -> T:
    """Run a service call that commits, writing its audit entry in that same transaction; if the
    call fails, roll back and record the failure instead."""
    now = rt.clock.now()

    def build(sync: Session) -> Any:
        return audit.entry(
            principal.actor, action, find_target(sync) if find_target else target, now, detail=detail
        )

    audit.stage(session, build)
    try:
        return await call()
    except (ServiceError, SecretError) as exc:
        await session.rollback()
        audit.unstage(session)
        audit.record(session, principal.actor, action, target, now, "failed", message=str(exc), detail=detail)
        await session.commit()
        raise
    finally:
        audit.unstage(session)
