"""The REST API: routes over the services, under /api/v1, behind ``authorize``."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI

from rightly.api import errors
from rightly.api.auth import API, authorize
from rightly.api.routes import admin, privacy, proofs, reports, requests, session, webhooks
from rightly.api.routes import connections as connection_routes
from rightly.connectors.base import Registry

DESCRIPTION = """\
Submit and follow privacy requests (access and deletion) and manage the connections (CleverTap
projects and other integrations) they run against.

Authenticate with `Authorization: Bearer <token>` (create one with `rightly token create`)
or a session cookie from `POST /api/v1/session`. What a caller may do depends on the role:
`super_admin` (everything), `connections_manager` (connections), `request_manager` (requests),
`viewer` (read only). Errors are JSON: `{"detail": "...", "errors": [{"field", "message"}]}`.
"""


def mount(app: FastAPI, registry: Registry) -> None:
    """Add the API's routes and its error handling to ``app``."""
    errors.install(app)
    api = APIRouter(prefix=API, dependencies=[Depends(authorize)], responses=errors.COMMON_RESPONSES)
    api.include_router(session.router)
    api.include_router(connection_routes.router(registry))
    api.include_router(requests.router)
    api.include_router(privacy.router)
    api.include_router(admin.router)
    api.include_router(proofs.router)
    api.include_router(webhooks.router)
    api.include_router(reports.router)
    app.include_router(api)
    app.include_router(session.root, dependencies=[Depends(authorize)])  # GET /healthz
