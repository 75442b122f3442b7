"""CORS for the privacy center's public API only: the origins in RIGHTLY_PRIVACY_CORS_ORIGINS may
POST to /api/v1/privacy/... from a browser (a company's own form); nothing else is opened to other
origins. Starlette's CORSMiddleware does the work; this only scopes it to those paths."""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

PREFIX = "/api/v1/privacy/"


class PrivacyCORS:
    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        self.app = app
        self.cors = (
            CORSMiddleware(
                app,
                allow_origins=origins,
                allow_methods=["POST"],
                allow_headers=["Content-Type"],
                allow_credentials=False,
                max_age=600,
            )
            if origins
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.cors is not None and scope["type"] == "http" and scope["path"].startswith(PREFIX):
            await self.cors(scope, receive, send)
            return
        await self.app(scope, receive, send)
