"""The web UI: server-rendered pages on the same services (and the same permissions) as the API.

``mount(app, registry)`` adds it to the app ``rightly.app.web.create_app`` builds.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from rightly.connectors.base import Registry
from rightly.store.db import DATABASE_BUSY
from rightly.web.security import PageForbidden, SignInRequired, authorize_page, login_url


def web_router() -> APIRouter:
    """Every page and form, behind ``authorize_page`` (permissions, then CSRF)."""
    from rightly.web.pages import (
        admin,
        connection_removal,
        connections,
        outbox,
        reports,
        requests,
        session,
        tokens,
        webhooks,
    )

    web = APIRouter(dependencies=[Depends(authorize_page)])
    for module in (
        session,
        requests,
        connection_removal,
        connections,
        admin,
        tokens,
        outbox,
        webhooks,
        reports,
    ):
        web.include_router(module.router)
    return web


def mount(app: FastAPI, registry: Registry) -> None:
    """Add the pages (hidden from the OpenAPI schema) and /static to ``app``. The pages find the
    runtime (and its connectors) on ``app.state`` as the API does."""
    from rightly.web.pages import privacy
    from rightly.web.render import HERE, render

    app.include_router(web_router(), include_in_schema=False)
    app.include_router(privacy.router)  # the privacy center: public, outside authorize_page
    privacy.redact_tokens()
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    async def _sign_in(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInRequired)
        return RedirectResponse(login_url(exc.next_path, exc.reason or None), status_code=303)

    async def _forbidden(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageForbidden)
        return render(request, "error.html", 403, title="Not allowed", detail=exc.detail)

    app.add_exception_handler(SignInRequired, _sign_in)
    app.add_exception_handler(PageForbidden, _forbidden)


def database_busy_page(request: Request) -> Response:
    """The page a browser gets when another process held SQLite's write lock past the timeout."""
    from rightly.web.render import render

    return render(request, "error.html", 503, title="The database is busy", detail=DATABASE_BUSY)


def refusal_page(request: Request, status: int, message: str) -> Response:
    """The page a browser gets when its input is refused before any page runs (too large, or holding
    what no database can store)."""
    from rightly.web.render import render

    title = "Too large" if status == 413 else "Not accepted"
    return render(
        request, "error.html", status, title=title, detail=f"Rightly cannot accept this: {message}."
    )
