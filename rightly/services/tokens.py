"""Credentials: API tokens (``Authorization: Bearer``) and browser sessions (a cookie).

A credential's secret is shown once, at creation; only its SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from rightly.domain.clock import Clock, iso
from rightly.domain.text import control_characters
from rightly.services import audit
from rightly.services.audit import Actor
from rightly.services.errors import Conflict, InvalidInput, NotFound
from rightly.services.users import get_user
from rightly.store.auth_models import Credential, User

TOKEN_PREFIX = "rly_"
SESSION_SECONDS = 12 * 3600
API = "api"
SESSION = "session"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


MAX_EXPIRY_DAYS = 3650


async def create_token(
    session: AsyncSession,
    clock: Clock,
    actor: Actor,
    user_email_or_id: str,
    name: str | None = None,
    expires_in_days: int | None = None,
) -> tuple[Credential, str]:
    """A new API token for a user: (the stored credential, the secret to show once). With
    ``expires_in_days`` it stops working that many days from now; without, when revoked."""
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_EXPIRY_DAYS:
        raise InvalidInput(
            f"a token expires 1 to {MAX_EXPIRY_DAYS} days after it is made",
            [{"field": "expires_in_days", "message": f"1 to {MAX_EXPIRY_DAYS}"}],
        )
    user = await get_user(session, user_email_or_id)
    if user.disabled:
        raise Conflict(f"user {user.email} is disabled")
    name = (name or "").strip() or "api token"
    if len(name) > 100 or control_characters(name):
        raise InvalidInput("the token name must be at most 100 printable characters")
    expires_at = clock.now() + expires_in_days * 86400 if expires_in_days else None
    return await _issue(session, clock, actor, user, API, name, expires_at)


async def start_session(session: AsyncSession, clock: Clock, user: User) -> tuple[Credential, str]:
    now = clock.now()
    return await _issue(session, clock, None, user, SESSION, "browser session", now + SESSION_SECONDS)


async def _issue(
    session: AsyncSession,
    clock: Clock,
    actor: Actor | None,
    user: User,
    kind: str,
    name: str,
    expires_at: float | None,
) -> tuple[Credential, str]:
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = clock.now()
    cred = Credential(
        user_id=user.id,
        kind=kind,
        name=name,
        secret_hash=_hash(secret),
        created_at=now,
        expires_at=expires_at,
    )
    session.add(cred)
    if actor is not None:
        await session.flush()
        audit.record(
            session,
            actor,
            "token.create",
            audit.target("token", cred.id),
            now,
            detail={"user": user.email, "name": name, "expires_at": iso(expires_at)},
        )
    await session.commit()
    return cred, secret


async def resolve(session: AsyncSession, clock: Clock, secret: str, kind: str) -> Credential | None:
    """The live credential of this kind with this secret (its user loaded), or None."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    rows = await session.execute(
        select(Credential)
        .where(Credential.secret_hash == _hash(secret))
        .options(selectinload(Credential.user))
    )
    cred = rows.scalar_one_or_none()
    now = clock.now()
    if cred is None or cred.kind != kind or cred.revoked_at is not None:
        return None
    if cred.expires_at is not None and cred.expires_at <= now:
        return None
    if cred.last_used_at is None or now - cred.last_used_at > 60:  # a write a minute at most
        cred.last_used_at = now
        await session.commit()
    return cred


async def list_tokens(session: AsyncSession, user_email_or_id: str | None = None) -> list[Credential]:
    query = select(Credential).where(Credential.kind == API).options(selectinload(Credential.user))
    if user_email_or_id:
        query = query.where(Credential.user_id == (await get_user(session, user_email_or_id)).id)
    return list((await session.execute(query.order_by(Credential.created_at, Credential.id))).scalars())


async def revoke_token(session: AsyncSession, clock: Clock, actor: Actor, token_id: str) -> Credential:
    rows = await session.execute(
        select(Credential)
        .where(Credential.id == token_id, Credential.kind == API)
        .options(selectinload(Credential.user))
    )
    cred = rows.scalar_one_or_none()
    if cred is None:
        raise NotFound(f"no token {token_id!r}")
    if cred.revoked_at is None:
        cred.revoked_at = clock.now()
        audit.record(
            session,
            actor,
            "token.revoke",
            audit.target("token", cred.id),
            cred.revoked_at,
            detail={"user": cred.user.email},
        )
        await session.commit()
    return cred


async def end_session(session: AsyncSession, clock: Clock, secret: str) -> None:
    cred = await resolve(session, clock, secret, SESSION)
    if cred is not None:
        cred.revoked_at = clock.now()
        audit.record(
            session,
            Actor("user", cred.user.email, cred.id),
            "logout",
            audit.target("user", cred.user.email),
            cred.revoked_at,
        )
        await session.commit()


def token_view(cred: Credential, now: float | None = None) -> dict[str, Any]:
    expired = cred.expires_at is not None and now is not None and cred.expires_at <= now
    return {
        "expired": expired,
        "id": cred.id,
        "name": cred.name,
        "user": cred.user.email,
        "created_at": iso(cred.created_at),
        "last_used_at": iso(cred.last_used_at),
        "revoked_at": iso(cred.revoked_at),
        "expires_at": iso(cred.expires_at),
    }
