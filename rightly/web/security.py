"""Who may see a page or post a form, in one place, and the CSRF check every POST passes.

``PAGE_PERMISSIONS`` names the permission each page or form needs (``PUBLIC`` for none), keyed by
the endpoint function's name, as the API's ``ROUTE_PERMISSIONS`` is; ``authorize_page`` is
installed once on the web router and enforces it through the API's own ``require``, so a refusal
is the same 403 (and the same audit entry) whichever face was used. A page missing from the
table is refused (fail closed).

CSRF: a signed-in browser's token is derived from its session secret (which only its HttpOnly
cookie holds), so it is per session and needs no storage; the sign-in form, before there is a
session, uses a double-submit cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final
from urllib.parse import quote

from fastapi import HTTPException, Request

from rightly.domain.roles import Permission
from rightly.faces.auth import PUBLIC, SESSION_COOKIE, Principal, current_principal, require

LOGIN_CSRF_COOKIE: Final = "rightly_login_csrf"
CSRF_FIELD: Final = "csrf"

PAGE_PERMISSIONS: dict[str, Permission | str] = {
    "login_page": PUBLIC,
    "login_submit": PUBLIC,
    "logout_submit": PUBLIC,
    "dashboard_page": Permission.READ,
    "requests_page": Permission.READ,
    "requests_table_fragment": Permission.READ,  # live.js: the list's table
    "request_page": Permission.READ,
    "request_status_fragment": Permission.READ,  # live.js: a request's changing parts
    "new_request_page": Permission.MANAGE_REQUESTS,
    "new_request_submit": Permission.MANAGE_REQUESTS,
    "cancel_request_submit": Permission.MANAGE_REQUESTS,
    "retry_request_submit": Permission.MANAGE_REQUESTS,
    "extend_request_submit": Permission.MANAGE_REQUESTS,
    "approve_request_submit": Permission.MANAGE_REQUESTS,
    "deny_request_submit": Permission.MANAGE_REQUESTS,
    "connections_page": Permission.READ,
    "connection_page": Permission.READ,
    "new_connection_page": Permission.MANAGE_CONNECTIONS,
    "new_connection_submit": Permission.MANAGE_CONNECTIONS,
    "edit_connection_submit": Permission.MANAGE_CONNECTIONS,
    "test_connection_submit": Permission.MANAGE_CONNECTIONS,
    "remove_connection_page": Permission.MANAGE_CONNECTIONS,  # the confirmation
    "remove_connection_submit": Permission.MANAGE_CONNECTIONS,
    "users_page": Permission.ADMIN,
    "invite_user_submit": Permission.ADMIN,
    "update_user_submit": Permission.ADMIN,
    "audit_page": Permission.ADMIN,
    "tokens_page": Permission.ADMIN,
    "create_token_submit": Permission.ADMIN,
    "revoke_token_submit": Permission.ADMIN,
    # The privacy center (web/pages/privacy.py): public, mounted outside authorize_page (no session,
    # so no CSRF token: a link's token or the form's throttle is its guard).
    "privacy_form_page": PUBLIC,
    "privacy_form_submit": PUBLIC,
    "privacy_verify_page": PUBLIC,
    "privacy_verify_submit": PUBLIC,
    "privacy_results_page": PUBLIC,
    "privacy_results_file": PUBLIC,
    "outbox_page": Permission.ADMIN,  # messages to people: read by super admins only
    "outbox_message_page": Permission.ADMIN,
    "webhooks_page": Permission.ADMIN,
    "add_webhook_submit": Permission.ADMIN,
    "webhook_page": Permission.ADMIN,
    "test_webhook_submit": Permission.ADMIN,
    "enable_webhook_submit": Permission.ADMIN,
    "remove_webhook_submit": Permission.ADMIN,
    "audit_verify_page": Permission.ADMIN,
    "metrics_page": Permission.READ,
}


class SignInRequired(Exception):
    """No live session: the browser is sent to the sign-in page (and back afterwards)."""

    def __init__(self, next_path: str, reason: str) -> None:
        super().__init__(reason)
        self.next_path = next_path
        self.reason = reason


class PageForbidden(Exception):
    """The role may not do this (or the form's CSRF token is wrong): a 403 page."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def login_url(next_path: str, reason: str | None = None) -> str:
    url = f"/login?next={quote(next_path, safe='/')}"
    return url + (f"&reason={reason}" if reason else "")


def _endpoint_name(request: Request) -> str:
    return str(getattr(request.scope.get("endpoint"), "__name__", ""))


async def authorize_page(request: Request) -> Principal | None:
    """Installed on the whole web router: the page's permission, then (for a POST) its CSRF token."""
    needed = PAGE_PERMISSIONS.get(_endpoint_name(request))
    if needed is None:
        raise PageForbidden("this page has no permission entry, so nobody may open it")
    principal: Principal | None = None
    if needed != PUBLIC:
        try:
            principal = await current_principal(request)
        except HTTPException as exc:
            if exc.status_code == 401:
                reason = "expired" if request.cookies.get(SESSION_COOKIE) else None
                raise SignInRequired(_here(request), reason or "") from None
            raise PageForbidden(str(exc.detail)) from None
        try:
            principal = await require(Permission(needed))(request)
        except HTTPException as exc:
            raise PageForbidden(str(exc.detail)) from None
    if request.method == "POST":
        await check_csrf(request)
    return principal


def _here(request: Request) -> str:
    path = request.url.path
    return path + (f"?{request.url.query}" if request.url.query and request.method == "GET" else "")


def session_csrf(session_secret: str) -> str:
    return hmac.new(session_secret.encode(), b"rightly web csrf", hashlib.sha256).hexdigest()


def csrf_token(request: Request) -> str:
    """The token this browser's forms carry: from its session, or its sign-in cookie."""
    if secret := request.cookies.get(SESSION_COOKIE):
        return session_csrf(secret)
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or getattr(request.state, "login_csrf", None)
    if not token:
        token = secrets.token_urlsafe(24)
        request.state.login_csrf = token  # set as a cookie by the sign-in page
    return str(token)


async def check_csrf(request: Request) -> None:
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    if _endpoint_name(request) in ("login_submit",):
        expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        expected = session_csrf(cookie) if cookie else None
    if not isinstance(sent, str) or not expected or not hmac.compare_digest(sent, expected):
        raise PageForbidden("the form's security token is missing or stale; reload the page and try again")
