"""Connection use cases: connect (validate, then save), list, test, update, remove."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from rightly.connectors.clevertap.client import CleverTapClient
from rightly.connectors.clevertap.validate import Validation, validate
from rightly.domain.clock import iso
from rightly.domain.enums import ConnectionHealth, DeletionBehavior
from rightly.domain.regions import REGIONS, UnknownRegion, region
from rightly.domain.work import SETTINGS, settings_of
from rightly.services.errors import Conflict, InvalidInput, NotFound, ValidationFailed
from rightly.services.runtime import Runtime
from rightly.store.models import Connection, Task


class ConnectionInput(BaseModel):
    """A CleverTap connection as the CLI, the API and the UI submit it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$")
    project_id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")
    passcode: SecretStr = Field(min_length=1, max_length=200)
    region: str
    deletion_behavior: DeletionBehavior = DeletionBehavior.UNTIL_COMPLETE
    email_is_identity: bool = False
    max_in_flight: int = Field(default=3, ge=1, le=50)
    rate: float = Field(default=3.0, gt=0, le=1000)
    verify_interval: float | None = Field(default=None, gt=0, le=30 * 86400)
    api_base_url: str | None = Field(default=None, max_length=500, pattern=r"^https?://[^\s?#]+$")
    timezone: str = Field(default="UTC", max_length=64)

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        return _region_code(value)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return _timezone_name(value)

    @field_validator("passcode")
    @classmethod
    def _header_safe(cls, value: SecretStr) -> SecretStr:
        return _header_safe_passcode(value)


def _header_safe_passcode(value: SecretStr) -> SecretStr:
    """The passcode travels in an HTTP header: printable ASCII only (never echoed in the error)."""
    if not all(32 < ord(c) < 127 for c in value.get_secret_value()):
        raise ValueError("the passcode must be printable ASCII without spaces (copy it again from CleverTap)")
    return value


def _timezone_name(value: str) -> str:
    """An IANA time zone name (``Asia/Kolkata``, ``America/New_York``, ``UTC``)."""
    name = value.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r}: use an IANA name such as UTC, Europe/London or Asia/Kolkata"
        ) from None
    return name


def _region_code(value: str) -> str:
    try:
        return region(value).code
    except UnknownRegion as exc:
        raise ValueError(str(exc)) from None


def _client(rt: Runtime, data: ConnectionInput | Connection, passcode: str) -> CleverTapClient:
    return CleverTapClient.for_project(
        rt.http, rt.budget, rt.clock, data, passcode, timeout=rt.settings.http_timeout
    )


def _failed(validation: Validation) -> ValidationFailed:
    checks = [asdict(c) for c in validation.checks]
    return ValidationFailed(validation.problem or "CleverTap did not accept the connection", checks)


async def connect(session: AsyncSession, rt: Runtime, data: ConnectionInput) -> tuple[Connection, Validation]:
    """Validate with CleverTap at once; save only when every check passed."""
    existing = await session.execute(
        select(Connection).where(Connection.name == data.name, Connection.removed_at.is_(None))
    )
    if existing.scalar_one_or_none() is not None:
        raise Conflict(f"a connection named {data.name!r} already exists")
    passcode = data.passcode.get_secret_value()
    validation = await validate(_client(rt, data, passcode))
    if not validation.ok:
        raise _failed(validation)
    now = rt.clock.now()
    await _free_name(session, data.name)
    conn = Connection(
        **settings_of(data) | {"deletion_behavior": data.deletion_behavior.value},
        passcode_encrypted=rt.secrets.encrypt(passcode),
        health=ConnectionHealth.OK,
        health_detail="; ".join(c.detail for c in validation.checks),
        last_tested_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(conn)
    await session.commit()
    return conn, validation


async def _free_name(session: AsyncSession, name: str) -> None:
    """A removed connection keeps its row (its tasks' evidence points at it) but gives up its name."""
    removed = await session.execute(
        select(Connection).where(Connection.name == name, Connection.removed_at.is_not(None))
    )
    for old in removed.scalars():
        old.name = f"{old.name[:60]} (removed {old.id[-6:]})"
    await session.flush()


async def list_connections(session: AsyncSession) -> list[Connection]:
    rows = await session.execute(
        select(Connection).where(Connection.removed_at.is_(None)).order_by(Connection.name)
    )
    return list(rows.scalars())


async def get_connection(session: AsyncSession, name_or_id: str) -> Connection:
    rows = await session.execute(
        select(Connection).where(
            (Connection.id == name_or_id) | (Connection.name == name_or_id), Connection.removed_at.is_(None)
        )
    )
    conn = rows.scalars().first()
    if conn is None:
        raise NotFound(f"no connection named {name_or_id!r}")
    return conn


async def test_connection(
    session: AsyncSession, rt: Runtime, name_or_id: str
) -> tuple[Connection, Validation]:
    conn = await get_connection(session, name_or_id)
    validation = await validate(_client(rt, conn, rt.secrets.decrypt(conn.passcode_encrypted)))
    now = rt.clock.now()
    conn.health = ConnectionHealth.OK if validation.ok else ConnectionHealth.FAILING
    conn.health_detail = validation.problem or "; ".join(c.detail for c in validation.checks)
    conn.last_tested_at = now
    conn.updated_at = now
    await session.commit()
    return conn, validation


class ConnectionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(
        default=None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$"
    )
    project_id: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")
    passcode: SecretStr | None = Field(default=None, min_length=1, max_length=200)
    region: str | None = None
    deletion_behavior: DeletionBehavior | None = None
    email_is_identity: bool | None = None
    max_in_flight: int | None = Field(default=None, ge=1, le=50)
    rate: float | None = Field(default=None, gt=0, le=1000)
    verify_interval: float | None = Field(default=None, gt=0, le=30 * 86400)
    api_base_url: str | None = Field(default=None, max_length=500, pattern=r"^https?://[^\s?#]+$")
    timezone: str | None = Field(default=None, max_length=64)

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str | None) -> str | None:
        return None if value is None else _region_code(value)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        return None if value is None else _timezone_name(value)


async def update_connection(
    session: AsyncSession, rt: Runtime, name_or_id: str, patch: ConnectionPatch
) -> tuple[Connection, Validation | None]:
    """Change settings; a change to the project, region, passcode or URL is validated first."""
    conn = await get_connection(session, name_or_id)
    fields = patch.model_dump(exclude_unset=True)
    if "name" in fields and fields["name"] != conn.name:
        clash = await session.execute(
            select(Connection.id).where(Connection.name == fields["name"], Connection.removed_at.is_(None))
        )
        if clash.first() is not None:
            raise Conflict(f"a connection named {fields['name']!r} already exists")
    passcode_secret = fields.pop("passcode", None)
    passcode = patch.passcode.get_secret_value() if passcode_secret is not None and patch.passcode else None
    merged: dict[str, Any] = (
        settings_of(conn) | {"passcode": passcode or rt.secrets.decrypt(conn.passcode_encrypted)} | fields
    )
    try:
        data = ConnectionInput(**merged)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    validation = None
    if passcode or {"project_id", "region", "api_base_url"} & fields.keys():
        validation = await validate(_client(rt, data, data.passcode.get_secret_value()))
        if not validation.ok:
            raise _failed(validation)
        conn.health = ConnectionHealth.OK
        conn.health_detail = "; ".join(c.detail for c in validation.checks)
        conn.last_tested_at = rt.clock.now()
    for key in SETTINGS:
        setattr(conn, key, getattr(data, key))
    conn.deletion_behavior = data.deletion_behavior.value
    if passcode:
        conn.passcode_encrypted = rt.secrets.encrypt(passcode)
    conn.updated_at = rt.clock.now()
    await session.commit()
    return conn, validation


async def count_open_tasks(session: AsyncSession, connection_id: str) -> int:
    """How many of the connection's tasks are unfinished: what removing it would cancel."""
    query = (
        select(func.count())
        .select_from(Task)
        .where(Task.connection_id == connection_id, Task.done.is_(False))
    )
    return int((await session.execute(query)).scalar() or 0)


async def remove_connection(session: AsyncSession, rt: Runtime, name_or_id: str) -> tuple[Connection, int]:
    """Remove a connection; its unfinished tasks are canceled (their evidence stays)."""
    from rightly.services.requests import cancel_open_tasks  # sibling service; avoids an import cycle

    conn = await get_connection(session, name_or_id)
    now = rt.clock.now()
    canceled = await cancel_open_tasks(session, Task.connection_id == conn.id, "connection removed", now)
    conn.removed_at = now
    conn.updated_at = now
    await session.commit()
    return conn, canceled


def connection_view(conn: Connection) -> dict[str, Any]:
    """A connection as the faces show it: never the passcode, not even encrypted."""
    return {
        "id": conn.id,
        **settings_of(conn),
        "vendor": conn.vendor,
        "region_name": REGIONS[conn.region].name if conn.region in REGIONS else conn.region,
        "health": conn.health,
        "health_detail": conn.health_detail,
        "last_tested_at": iso(conn.last_tested_at),
        "created_at": iso(conn.created_at),
    }
