"""``create_app(settings)``: the REST API (and the web UI's routes, when present) with an in-process worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI

from rightly.api import errors
from rightly.api.auth import API, authorize
from rightly.api.routes import admin, connections, requests, session
from rightly.services.runtime import Runtime, open_runtime
from rightly.settings import Settings

log = logging.getLogger(__name__)

RuntimeFactory = Callable[[Settings], AbstractAsyncContextManager[Runtime]]

DESCRIPTION = """\
Submit and follow privacy requests (access and deletion) and manage the CleverTap connections
they run against.

Authenticate with `Authorization: Bearer <token>` (create one with `rightly token create`)
or a session cookie from `POST /api/v1/session`. What a caller may do depends on the role:
`super_admin` (everything), `connections_manager` (connections), `request_manager` (requests),
`viewer` (read only). Errors are JSON: `{"detail": "...", "errors": [{"field", "message"}]}`.
"""


def create_app(
    settings: Settings | None = None,
    *,
    runtime_factory: RuntimeFactory | None = None,
    start_worker: bool = True,
) -> FastAPI:
    """The app. Its lifespan opens the runtime (migrating the database) and, with ``start_worker``,
    runs a worker in this process. Tests pass a ``runtime_factory`` that injects a clock and an
    HTTP client whose transport is the CleverTap emulator."""
    settings = settings or Settings()
    factory: RuntimeFactory = runtime_factory or open_runtime

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with factory(settings) as rt:
            app.state.runtime = rt
            stop = asyncio.Event()
            job = asyncio.create_task(rt.worker().run(stop)) if start_worker else None
            try:
                yield
            finally:
                stop.set()
                if job is not None:
                    with contextlib.suppress(asyncio.CancelledError):
                        await job

    app = FastAPI(
        title="Rightly",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        generate_unique_id_function=lambda route: route.name,  # operationId = endpoint name
    )
    errors.install(app)
    api = APIRouter(prefix=API, dependencies=[Depends(authorize)], responses=errors.COMMON_RESPONSES)
    for module in (session, connections, requests, admin):
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(session.root, dependencies=[Depends(authorize)])  # GET /healthz
    _mount_web(app)
    return app


def runtime_getter(app: FastAPI) -> Callable[[], Runtime]:
    return lambda: app.state.runtime


def _mount_web(app: FastAPI) -> None:
    """The web UI hook: if ``rightly.web`` defines ``mount(app, runtime_getter)``, let it add its
    routes (it reuses ``rightly.api.auth.current_principal`` and ``require``)."""
    import rightly.web as web

    mount = getattr(web, "mount", None)
    if callable(mount):
        mount(app, runtime_getter(app))
