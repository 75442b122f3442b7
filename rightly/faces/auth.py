"""Who is calling, and may they? What the API and the web UI share: the signed-in caller (a
Bearer token or the session cookie), the role check, and the audit entry of a refusal.

Each face keeps its own table of what every route needs (``rightly.api.auth.ROUTE_PERMISSIONS``,
``rightly.web.security.PAGE_PERMISSIONS``) and enforces it through ``require``.
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
from rightly.services.users import SignInClient

SESSION_COOKIE: Final = "rightly_session"
DEVICE_COOKIE: Final = "rightly_device"  # left by a successful sign-in: this browser may sign in again
DEVICE_SECONDS: Final = 365 * 86400


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


def set_device_cookie(response: Response, request: Request, device: str) -> None:
    """The device cookie a successful sign-in leaves: it keeps the account's sign-in open to this
    browser while others are throttled (``services.users.authenticate``). It proves nothing alone."""
    response.set_cookie(
        DEVICE_COOKIE,
        device,
        max_age=DEVICE_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


def sign_in_client(request: Request) -> SignInClient:
    """The client a sign-in comes from: its address (as the server saw it, behind a trusted proxy its
    X-Forwarded-For) and its device cookie."""
    address = request.client.host if request.client else None
    return SignInClient(address=address, device=request.cookies.get(DEVICE_COOKIE))


PUBLIC: Final = "public"

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


async def _audit_denial(request: Request, principal: Principal, permission: Permission) -> None:
    if request.method in ("GET", "HEAD"):
        return
    rt = runtime_of(request)
    async with rt.db.session() as s:
        audit.record(
            s,
            principal.actor,
            "denied",
            f"{request.method} {request.url.path}",  # bounded (and made storable) by audit.entry
            rt.clock.now(),
            "denied",
            message=f"role {principal.role.value} lacks {permission.value}",
        )
        await s.commit()
