"""The links Rightly sends a person: ``verify`` (prove you own the email; single use) and
``results`` (the access results' download page; reusable until it expires). Both are valid 7 days.

A link carries a random token (32 bytes, URL-safe) and nothing else: no personal data in any URL.
Only the token's SHA-256 is stored, so neither the database nor a backup can open a link; the raw
token exists only in the message that carries it (encrypted at rest) and in the person's mailbox.
A presented token is looked up by its hash and compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rightly.settings import Settings
from rightly.store.privacy_models import Link

VERIFY, RESULTS = "verify", "results"
LINK_SECONDS = 7 * 86400
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue(session: AsyncSession, request_id: str, purpose: str, now: float, expires_at: float) -> str:
    """A new link for the request, in the caller's transaction; returns the raw token (to be put
    into a message at once, and nowhere else)."""
    token = secrets.token_urlsafe(32)
    session.add(
        Link(
            request_id=request_id,
            purpose=purpose,
            token_hash=token_hash(token),
            created_at=now,
            expires_at=expires_at,
        )
    )
    return token


async def find(session: AsyncSession, token: str, purpose: str) -> Link | None:
    """The link a token opens, or None (unknown, altered, malformed, or for another purpose)."""
    if not isinstance(token, str) or not _TOKEN.match(token):
        return None
    wanted = token_hash(token)
    link = (
        await session.execute(select(Link).where(Link.token_hash == wanted, Link.purpose == purpose))
    ).scalar_one_or_none()
    if link is None or not hmac.compare_digest(link.token_hash, wanted):
        return None
    return link


async def use(session: AsyncSession, link: Link, now: float) -> bool:
    """Spend a single-use link (and every other verify link of its request). False when another
    click spent it first."""
    spent = await session.execute(
        update(Link).where(Link.id == link.id, Link.used_at.is_(None)).values(used_at=now)
    )
    if not int(getattr(spent, "rowcount", 0) or 0):
        return False
    await session.execute(
        update(Link)
        .where(Link.request_id == link.request_id, Link.purpose == link.purpose, Link.used_at.is_(None))
        .values(used_at=now)
    )
    return True


def url(settings: Settings, path: str) -> str:
    """An absolute link for a message: RIGHTLY_PUBLIC_URL + ``path``."""
    return settings.public_url.rstrip("/") + path


def verify_url(settings: Settings, token: str) -> str:
    return url(settings, f"/privacy/verify/{token}")


def results_url(settings: Settings, token: str) -> str:
    return url(settings, f"/privacy/results/{token}")
