"""Dependencies the routes share: the runtime, a database session, the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from rightly.faces.auth import current_principal, runtime_of
from rightly.services.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    return runtime_of(request)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with runtime_of(request).db.session() as session:
        yield session


RuntimeDep = Depends(get_runtime)
SessionDep = Depends(get_session)
PrincipalDep = Depends(current_principal)
