"""User use cases: add, list, change role, disable, and check a password (Argon2id).

Hashing and verifying a password takes a fifth of a second or more of CPU and 64 MiB of memory,
so it runs on a small pool of threads of its own (argon2 releases the GIL), never on the event
loop, and without holding a database connection: a burst of sign-ins then waits for those
threads while the API, the web UI and the worker go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rightly.domain.clock import Clock, iso
from rightly.domain.roles import Role
from rightly.domain.text import control_characters
from rightly.services import audit
from rightly.services.audit import Actor
from rightly.services.errors import Conflict, InvalidInput, NotFound, ServiceError
from rightly.store.auth_models import AuditEntry, Credential, User

_hasher = PasswordHasher()  # argon2-cffi's defaults are Argon2id with RFC 9106's low-memory profile
# One hash per core but one (at least one, at most four): leaves a core to the event loop and
# bounds the memory (64 MiB a hash); a burst of sign-ins queues here instead.
_hashing = ThreadPoolExecutor(
    max_workers=max(1, min(4, (os.cpu_count() or 2) - 1)), thread_name_prefix="rightly-argon2"
)
T = TypeVar("T")


async def _off_loop(function: Callable[..., T], *args: Any) -> T:
    """Run a password hash or check on the hashing threads."""
    return await asyncio.get_running_loop().run_in_executor(_hashing, function, *args)


@functools.cache
def _dummy_hash() -> str:
    """Verified against when no such user exists, so a wrong email costs as long as a wrong password
    (computed on first use: hashing takes a fifth of a second, which every CLI start would pay)."""
    return _hasher.hash("rightly: no such user")


LOCKOUT_FAILURES = 5
LOCKOUT_SECONDS = 15 * 60


class TooManyAttempts(ServiceError):
    status_code = 429


MIN_PASSWORD = 12
MAX_PASSWORD = 1024


def normalize_email(email: str) -> str:
    email = email.strip()
    if not email or len(email) > 320:
        raise InvalidInput("the email must be 1 to 320 characters")
    if control_characters(email):
        raise InvalidInput("the email must be printable text")
    try:
        return validate_email(email, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise InvalidInput(f"{email!r} is not a valid email address: {exc}") from None


def parse_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise InvalidInput(f"unknown role {role!r}; expected one of: {', '.join(Role)}") from None


def hash_password(password: str) -> str:
    """The Argon2id hash of ``password`` (blocking: async code calls it through ``_off_loop``)."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(f"the password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    return _hasher.hash(password)


async def add_user(
    session: AsyncSession,
    clock: Clock,
    actor: Actor,
    email: str,
    role: Role | str,
    password: str | None = None,
) -> User:
    """Create a user; without a password the user can only use API tokens."""
    email = normalize_email(email)
    role = parse_role(role)
    password_hash = await _off_loop(hash_password, password) if password else None
    if await _find(session, email) is not None:
        raise Conflict(f"a user {email!r} already exists")
    now = clock.now()
    user = User(
        email=email,
        role=role.value,
        password_hash=password_hash,
        disabled=False,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    audit.record(session, actor, "user.create", audit.target("user", email), now, detail={"role": role.value})
    await session.commit()
    return user


async def _find(session: AsyncSession, email: str) -> User | None:
    rows = await session.execute(select(User).where(func.lower(User.email) == email.strip().lower()))
    return rows.scalar_one_or_none()


async def get_user(session: AsyncSession, email_or_id: str) -> User:
    rows = await session.execute(
        select(User).where((User.id == email_or_id) | (func.lower(User.email) == email_or_id.strip().lower()))
    )
    user = rows.scalars().first()
    if user is None:
        raise NotFound(f"no user {email_or_id!r}")
    return user


async def list_users(session: AsyncSession) -> list[User]:
    return list((await session.execute(select(User).order_by(User.email))).scalars())


async def set_role(
    session: AsyncSession, clock: Clock, actor: Actor, email_or_id: str, role: Role | str
) -> User:
    user = await get_user(session, email_or_id)
    role = parse_role(role)
    before = user.role
    user.role = role.value
    user.updated_at = clock.now()
    audit.record(
        session,
        actor,
        "user.set_role",
        audit.target("user", user.email),
        user.updated_at,
        detail={"from": before, "to": role.value},
    )
    await session.commit()
    return user


async def set_disabled(
    session: AsyncSession, clock: Clock, actor: Actor, email_or_id: str, disabled: bool = True
) -> User:
    """Disable (or enable) a user; disabling also ends every session and token of theirs."""
    user = await get_user(session, email_or_id)
    now = clock.now()
    user.disabled = disabled
    user.updated_at = now
    if disabled:
        await session.execute(
            update(Credential)
            .where(Credential.user_id == user.id, Credential.revoked_at.is_(None))
            .values(revoked_at=now)
        )
    action = "user.disable" if disabled else "user.enable"
    audit.record(session, actor, action, audit.target("user", user.email), now)
    await session.commit()
    return user


async def authenticate(session: AsyncSession, clock: Clock, email: str, password: str) -> User | None:
    """The enabled user with this email and password, or None; writes the login's audit entry."""
    user = None
    with contextlib.suppress(InvalidInput):  # a malformed email is just another failed login
        user = await _find(session, normalize_email(email))
    name = user.email if user else email.strip()[:320]
    await _refuse_if_locked_out(session, clock, name)
    await session.commit()  # ends the read: no connection is held while the password is checked
    stored = user.password_hash if user and user.password_hash else None
    ok = await _off_loop(_verify, stored, password)
    ok = ok and user is not None and user.password_hash is not None and not user.disabled
    reason = None if ok else ("user disabled" if user and user.disabled else "wrong email or password")
    audit.record(
        session,
        Actor("user" if ok else "anonymous", name),
        "login",
        audit.target("user", name),
        clock.now(),
        "ok" if ok else "failed",
        message=reason,
    )
    await session.commit()
    return user if ok else None


def _verify(stored: str | None, password: str) -> bool:
    """Check ``password`` against ``stored``, or against a dummy hash when there is none, so a
    wrong email costs as long as a wrong password."""
    try:
        return _hasher.verify(stored or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False


async def _refuse_if_locked_out(session: AsyncSession, clock: Clock, name: str) -> None:
    """After LOCKOUT_FAILURES failed sign-ins for one email within LOCKOUT_SECONDS, refuse more
    (even with the right password) until the window has passed. The audit trail is the counter."""
    since = clock.now() - LOCKOUT_SECONDS
    failures = await session.execute(
        select(func.count())
        .select_from(AuditEntry)
        .where(
            AuditEntry.action == "login",
            AuditEntry.target == audit.target("user", name),
            AuditEntry.outcome == "failed",
            AuditEntry.at >= since,
        )
    )
    if (failures.scalar() or 0) < LOCKOUT_FAILURES:
        return
    audit.record(
        session,
        Actor("anonymous", name),
        "login",
        audit.target("user", name),
        clock.now(),
        "denied",
        message="too many failed sign-ins",
    )
    await session.commit()
    raise TooManyAttempts(
        f"too many failed sign-ins for this email; try again in {LOCKOUT_SECONDS // 60} minutes"
    )


def user_view(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "role": user.role,
        "disabled": user.disabled,
        "has_password": user.password_hash is not None,
        "created_at": iso(user.created_at),
    }
