"""User use cases: add, list, change role, disable, and sign in (Argon2id, throttled).

Hashing and verifying a password takes a fifth of a second or more of CPU and 64 MiB of memory,
so it runs on a small pool of threads of its own (argon2 releases the GIL), never on the event
loop, and without holding a database connection: a burst of sign-ins then waits for those
threads while the API, the web UI and the worker go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import math
import os
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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
from rightly.services.passwords import MAX_PASSWORD, MIN_PASSWORD, check_password
from rightly.services.runtime import Runtime
from rightly.services.throttle import Limit, Throttle
from rightly.store.auth_models import Credential, User

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


class TooManyAttempts(ServiceError):
    status_code = 429

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


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


def _checked_hash(password: str, email: str) -> str:
    """A new password: refused if common, breached or guessable (``passwords``), else hashed."""
    check_password(password, email)
    return hash_password(password)


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
    password_hash = await _off_loop(_checked_hash, password, email) if password else None
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


@dataclass(frozen=True)
class SignInClient:
    """Who is signing in, as far as the face can tell: the client's address, and the device cookie a
    previous successful sign-in on this browser (or API client) left."""

    address: str | None = None
    device: str | None = None


@dataclass(frozen=True)
class SignedIn:
    user: User
    device: str  # the device cookie to set (renewed on every successful sign-in)


async def authenticate(
    session: AsyncSession, rt: Runtime, email: str, password: str, client: SignInClient | None = None
) -> SignedIn | None:
    """The enabled user with this email and password, or None; writes the sign-in's audit entry.

    Throttled (raises TooManyAttempts with the seconds to wait) so that guessing is slow and nobody
    can lock the real user out:
    * per client address: ADDRESS failures within its window, whatever the emails tried;
    * per account: ACCOUNT failures within its window from clients that do not hold this account's
      device cookie (set by a successful sign-in); the real user's own browser keeps its way in,
      limited by DEVICE failures of its own cookie.
    A refused attempt checks no password and counts nothing more."""
    client = client or SignInClient()
    clock = rt.clock
    user = None
    with contextlib.suppress(InvalidInput):  # a malformed email is just another failed login
        user = await _find(session, normalize_email(email))
    name = user.email if user else email.strip()[:320]
    throttle = Throttle(rt.secrets)
    now = clock.now()
    device = _device_id(rt, user, client.device)
    if device is not None and await throttle.exceeded(session, DEVICE, device, now):
        device = None  # this cookie has failed too often: it no longer opens the account's limit
    checks = [] if device is not None else [(ADDRESS, client.address), (ACCOUNT, name.lower())]
    for limit, key in checks:
        if key and await throttle.exceeded(session, limit, key, now):
            wait = await throttle.retry_after(session, limit, key, now)
            audit.record(
                session,
                Actor("anonymous", name),
                "login",
                audit.target("user", name),
                now,
                "denied",
                message=f"too many failed sign-ins ({limit.scope})",
            )
            await session.commit()
            raise TooManyAttempts(
                f"too many failed sign-ins {_WHO[limit.scope]}; try again in {_minutes(wait)}", wait
            )
    await session.commit()  # ends the read: no connection is held while the password is checked
    stored = user.password_hash if user and user.password_hash else None
    ok = await _off_loop(_verify, stored, password)
    ok = ok and user is not None and user.password_hash is not None and not user.disabled
    reason = None if ok else ("user disabled" if user and user.disabled else "wrong email or password")
    now = clock.now()
    if ok:
        assert user is not None
        if device is not None:
            await throttle.forget(session, DEVICE.scope, device)
    else:
        for limit, key in ((ADDRESS, client.address), (ACCOUNT, name.lower()), (DEVICE, device)):
            if key:
                await throttle.hit(session, limit.scope, key, now)
    audit.record(
        session,
        Actor("user" if ok else "anonymous", name),
        "login",
        audit.target("user", name),
        now,
        "ok" if ok else "failed",
        message=reason,
    )
    await session.commit()
    if not ok or user is None:
        return None
    return SignedIn(user, _new_device(rt, user))


# Failed sign-ins counted per client address, per account (from clients without its device cookie)
# and per device cookie, each within its window.
ADDRESS = Limit("login.address", 20, 10 * 60.0)
ACCOUNT = Limit("login.account", 10, 15 * 60.0)
DEVICE = Limit("login.device", 10, 15 * 60.0)
_WHO = {
    ADDRESS.scope: "from this address",
    ACCOUNT.scope: "for this email from browsers it has not signed in on",
    DEVICE.scope: "from this browser",
}


def _minutes(seconds: float) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def _device_mac(rt: Runtime, user_id: str, nonce: str) -> str:
    return rt.secrets.keyed_hash("login.device", f"{user_id}\x00{nonce}")[:32]


def _new_device(rt: Runtime, user: User) -> str:
    nonce = secrets.token_urlsafe(16)
    return f"{nonce}.{_device_mac(rt, user.id, nonce)}"


def _device_id(rt: Runtime, user: User | None, cookie: str | None) -> str | None:
    """The device's nonce when ``cookie`` is a device cookie this user's sign-in left, else None."""
    if user is None or not cookie or len(cookie) > 200:
        return None
    nonce, _, mac = cookie.partition(".")
    if not nonce or not hmac.compare_digest(mac, _device_mac(rt, user.id, nonce)):
        return None
    return nonce


def _verify(stored: str | None, password: str) -> bool:
    """Check ``password`` against ``stored``, or against a dummy hash when there is none, so a
    wrong email costs as long as a wrong password."""
    try:
        return _hasher.verify(stored or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False


def user_view(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "role": user.role,
        "disabled": user.disabled,
        "has_password": user.password_hash is not None,
        "created_at": iso(user.created_at),
    }
