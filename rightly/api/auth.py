"""Who is calling, and may they? The one place the role matrix meets the routes.

``ROUTE_PERMISSIONS`` names the permission every API operation needs (``PUBLIC`` for none);
``authorize`` is installed once on the API router and enforces it, and a route missing from the
table is refused (fail closed). The web UI reuses ``current_principal`` and ``require``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from fastapi import HTTPException, Request, Response

from rightly.domain.roles import Permission, Role, allows, roles_with
from rightly.services import audit, tokens
from rightly.services.audit import Actor
from rightly.services.runtime import Runtime

SESSION_COOKIE: Final = "rightly_session"


def set_session_cookie(response: Response, request: Request, secret: str) -> None:
    """The browser session cookie, for the API's sign-in and the web UI's alike: HttpOnly,
    SameSite=Lax, Secure when the request came over HTTPS."""
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=tokens.SESSION_SECONDS,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


PUBLIC: Final = "public"
API: Final = "/api/v1"

# Keyed by operation id (the endpoint function's name; OpenAPI's operationId).
ROUTE_PERMISSIONS: dict[str, Permission | str] = {
    "healthz": PUBLIC,  # GET /healthz
    "root_healthz": PUBLIC,  # GET /healthz at the root, outside /api/v1
    "readyz": PUBLIC,  # GET /readyz
    "login": PUBLIC,  # POST /session
    "logout": PUBLIC,  # DELETE /session
    "me": Permission.READ,  # GET /me
    "list_connections": Permission.READ,  # GET /connections
    "get_connection": Permission.READ,  # GET /connections/{id}
    "create_connection": Permission.MANAGE_CONNECTIONS,  # POST /connections
    "update_connection": Permission.MANAGE_CONNECTIONS,  # PATCH /connections/{id}
    "test_connection": Permission.MANAGE_CONNECTIONS,  # POST /connections/{id}/test
    "remove_connection": Permission.MANAGE_CONNECTIONS,  # DELETE /connections/{id}
    "list_requests": Permission.READ,  # GET /requests
    "get_request": Permission.READ,  # GET /requests/{id}
    "request_results": Permission.READ,  # GET /requests/{id}/results
    "submit_request": Permission.MANAGE_REQUESTS,  # POST /requests
    "cancel_request": Permission.MANAGE_REQUESTS,  # POST /requests/{id}/cancel
    "retry_request": Permission.MANAGE_REQUESTS,  # POST /requests/{id}/retry
    "list_audit": Permission.ADMIN,  # GET /audit
    "list_users": Permission.ADMIN,  # GET /users
    "add_user": Permission.ADMIN,  # POST /users
    "update_user": Permission.ADMIN,  # PATCH /users/{id}
    "list_tokens": Permission.ADMIN,  # GET /tokens
    "create_token": Permission.ADMIN,  # POST /tokens
    "revoke_token": Permission.ADMIN,  # DELETE /tokens/{id}
}

_WHAT = {
    Permission.READ: "read requests and connections",
    Permission.MANAGE_CONNECTIONS: "create, edit, test or remove connections",
    Permission.MANAGE_REQUESTS: "submit, cancel or retry requests",
    Permission.ADMIN: "manage users, roles, tokens or read the audit trail",
}


@dataclass(frozen=True)
class Principal:
    """A signed-in caller: the user, their role, and the credential they used."""

    user_id: str
    email: str
    role: Role
    via: str  # "token" or "session"
    credential_id: str

    @property
    def actor(self) -> Actor:
        return Actor("token" if self.via == "token" else "user", self.email, self.credential_id)

    def may(self, permission: Permission) -> bool:
        return allows(self.role, permission)


def runtime_of(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


async def current_principal(request: Request) -> Principal:
    """The caller, from ``Authorization: Bearer <token>`` or the session cookie; 401 otherwise."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    rt = runtime_of(request)
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise _unauthorized("the Authorization header must be 'Bearer <token>'")
        kind, secret, missing = tokens.API, secret.strip(), "the token is invalid, expired or revoked"
    elif cookie := request.cookies.get(SESSION_COOKIE):
        kind, secret, missing = tokens.SESSION, cookie, "the session has expired or ended; sign in again"
    else:
        raise _unauthorized("sign in first: send 'Authorization: Bearer <token>' or a session cookie")
    async with rt.db.session() as s:
        cred = await tokens.resolve(s, rt.clock, secret, kind)
        if cred is None:
            raise _unauthorized(missing)
        user = cred.user
        if user.disabled:
            raise _unauthorized(f"user {user.email} is disabled")
        try:
            role = Role(user.role)
        except ValueError:
            raise HTTPException(403, f"user {user.email} has no valid role") from None
    principal = Principal(user.id, user.email, role, "token" if kind == tokens.API else "session", cred.id)
    request.state.principal = principal
    return principal


def forbidden(principal: Principal, permission: Permission) -> HTTPException:
    return HTTPException(
        403,
        f"role {principal.role.value} may not {_WHAT[permission]}; "
        f"that needs one of: {', '.join(roles_with(permission))}",
    )


def require(permission: Permission) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency: the signed-in caller, if their role holds ``permission`` (401/403 otherwise)."""

    async def dependency(request: Request) -> Principal:
        principal = await current_principal(request)
        if not principal.may(permission):
            await _audit_denial(request, principal, permission)
            raise forbidden(principal, permission)
        return principal

    return dependency


def operation_id(request: Request) -> str:
    """The operation being called: its endpoint function's name (as in OpenAPI's operationId)."""
    endpoint = request.scope.get("endpoint")
    return str(getattr(endpoint, "__name__", ""))


async def authorize(request: Request) -> Principal | None:
    """Installed on the whole API router: look the route up in ROUTE_PERMISSIONS and enforce it."""
    needed = ROUTE_PERMISSIONS.get(operation_id(request))
    if needed is None:
        raise HTTPException(403, "this route has no permission entry, so nobody may call it")
    if needed == PUBLIC:
        return None
    return await require(Permission(needed))(request)


async def _audit_denial(request: Request, principal: Principal, permission: Permission) -> None:
    if request.method in ("GET", "HEAD"):
        return
    rt = runtime_of(request)
    async with rt.db.session() as s:
        audit.record(
            s,
            principal.actor,
            "denied",
            f"{request.method} {request.url.path}",
            rt.clock.now(),
            "denied",
            message=f"role {principal.role.value} lacks {permission.value}",
        )
        await s.commit()
