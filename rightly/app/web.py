"""``create_app(settings)``: the REST API and the web UI on one runtime, with a supervised
in-process worker (``rightly serve``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI, Request, Response
from sqlalchemy.exc import OperationalError
from starlette.types import Scope

from rightly import api, web
from rightly.api import errors as api_errors
from rightly.api.auth import API
from rightly.api.cors import PrivacyCORS
from rightly.app.runtime import open_runtime
from rightly.connectors.base import Registry
from rightly.connectors.builtin import builtin_registry
from rightly.engine.supervisor import Supervisor
from rightly.faces.guard import InputGuard
from rightly.faces.headers import SecurityHeaders
from rightly.services.runtime import Runtime
from rightly.settings import Settings
from rightly.store.db import is_busy

RuntimeFactory = Callable[[Settings], AbstractAsyncContextManager[Runtime]]


def create_app(
    settings: Settings | None = None,
    *,
    runtime_factory: RuntimeFactory | None = None,
    registry: Registry | None = None,
    start_worker: bool = True,
) -> FastAPI:
    """The app. Its lifespan opens the runtime (migrating the database) and, with ``start_worker``,
    keeps a worker running in this process. Tests pass a ``runtime_factory`` that injects a clock
    and an HTTP client whose transport is the CleverTap emulator (and the same ``registry``)."""
    settings = settings or Settings()
    registry = registry or builtin_registry()

    def default_factory(s: Settings) -> AbstractAsyncContextManager[Runtime]:
        return open_runtime(s, registry=registry)

    factory: RuntimeFactory = runtime_factory or default_factory

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with factory(settings) as rt:
            app.state.runtime = rt
            supervisor = Supervisor(rt.worker) if start_worker else None
            app.state.supervisor = supervisor
            if supervisor is not None:
                supervisor.start()
            try:
                yield
            finally:
                if supervisor is not None:
                    await supervisor.stop()

    app = FastAPI(
        title="Rightly",
        version="1",
        description=api.DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        generate_unique_id_function=lambda route: route.name,  # operationId = endpoint name
    )
    api.mount(app, registry)
    web.mount(app, registry)

    async def database_busy(request: Request, exc: Exception) -> Response:
        """A page gets a page, the API (and any other database failure) the API's answer."""
        if request.url.path.startswith(API + "/") or not is_busy(exc):
            return await api_errors.database_busy(request, exc)
        return web.database_busy_page(request)

    app.add_exception_handler(OperationalError, database_busy)
    app.add_middleware(PrivacyCORS, origins=settings.cors_origins)

    async def refuse(scope: Scope, status: int, message: str, field: str | None) -> Response:
        """The guard's refusal in the asker's form: JSON for the API, a page for a browser."""
        if _is_api(scope.get("path", "")):
            name = (field or "body").removeprefix("body.")
            errors = [api_errors.FieldError(field=name, message=message)] if status == 422 else None
            return api_errors.problem(status, message, errors=errors)
        return web.refusal_page(Request(scope), status, message)

    app.add_middleware(InputGuard, refuse=refuse)
    app.add_middleware(SecurityHeaders, docs_path=app.docs_url)  # outermost: refusals get them too
    return app


def _is_api(path: str) -> bool:
    return path.startswith(API + "/") or path == API or path in ("/openapi.json", "/docs", "/healthz")
