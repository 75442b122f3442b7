"""Connection use cases: connect (validate, then save), list, test, update, remove. Each change is
audited here, in its own transaction, whichever face asked.

A connection is vendor-neutral here: its vendor's connector (from the registry) validates the
settings, checks them with the vendor, and says how they are shown. The secret (CleverTap's
passcode) is written once, encrypted, and never shown or sent anywhere but to the vendor: a change
of where calls go or as whom (the connector's ``identity_fields``) needs the secret again.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from rightly.connectors.base import ConnectionConfig, Connector, StepContext, UnknownVendor, Validation
from rightly.domain.clock import iso
from rightly.domain.enums import ConnectionHealth
from rightly.engine.dispatch import connection_config
from rightly.services import audit
from rightly.services.audit import Actor
from rightly.services.errors import Conflict, InvalidInput, NotFound, ValidationFailed
from rightly.services.requests import cancel_open_tasks
from rightly.services.runtime import Runtime
from rightly.store.models import Connection, Task

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$"
NAME = Field(min_length=1, max_length=100, pattern=NAME_PATTERN)
MAX_IN_FLIGHT = Field(default=None, ge=1, le=50)
RATE = Field(default=None, ge=0.01, le=1000)


class ConnectionInput(BaseModel):
    """A connection as the CLI, the API and the UI submit it: the name, the vendor (the registry's
    default when absent), the budget, and the vendor's own settings and secret as further keys."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    name: str = NAME
    vendor: str | None = Field(default=None, max_length=30)
    max_in_flight: int | None = MAX_IN_FLIGHT
    rate: float | None = RATE

    @property
    def vendor_fields(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class ConnectionPatch(BaseModel):
    """Fields to change: the name, the budget, and any of the vendor's settings or its secret."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=100, pattern=NAME_PATTERN)
    max_in_flight: int | None = MAX_IN_FLIGHT
    rate: float | None = RATE

    @property
    def vendor_fields(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


def _connector(rt: Runtime, vendor: str | None) -> Connector:
    try:
        return rt.registry.get(vendor) if vendor else rt.registry.default
    except UnknownVendor as exc:
        raise InvalidInput(str(exc)) from None


def _field_errors(exc: ValidationError) -> InvalidInput:
    errors = [
        {
            "field": ".".join(str(p) for p in e["loc"]) or "settings",
            "message": str(e["msg"]).removeprefix("Value error, "),
        }
        for e in exc.errors()
    ]
    return InvalidInput("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors)


def _secret(connector: Connector, raw: Any) -> str:
    value = raw.get_secret_value() if isinstance(raw, SecretStr) else str(raw or "")
    try:
        return connector.check_secret(value)
    except ValueError as exc:
        raise InvalidInput(
            f"{connector.secret_field}: {exc}", [{"field": connector.secret_field, "message": str(exc)}]
        ) from None


def parse_settings(rt: Runtime, connector: Connector, raw: dict[str, Any]) -> Any:
    """The vendor settings in ``raw`` (its secret left out), validated under the server's policy."""
    try:
        return connector.parse_settings(raw, rt.policy)
    except ValidationError as exc:
        raise _field_errors(exc) from None


def _failed(validation: Validation, label: str) -> ValidationFailed:
    checks = [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in validation.checks]
    return ValidationFailed(validation.problem or f"{label} did not accept the connection", checks)


async def _validate(rt: Runtime, config: ConnectionConfig) -> Validation:
    ctx = StepContext(rt.http, rt.budget, rt.clock, timeout=rt.settings.http_timeout)
    return await rt.registry.get(config.vendor).validate(config, ctx)


async def connect(
    session: AsyncSession, rt: Runtime, actor: Actor, data: ConnectionInput
) -> tuple[Connection, Validation]:
    """Validate with the vendor at once; save only when every check passed."""
    now = rt.clock.now()
    connector = _connector(rt, data.vendor)
    detail: dict[str, Any] = {"name": data.name, "vendor": connector.vendor}
    try:
        raw = data.vendor_fields
        secret = _secret(connector, raw.pop(connector.secret_field, None))
        settings = parse_settings(rt, connector, raw)
        detail["target"] = connector.target(settings)
        existing = await session.execute(
            select(Connection.id).where(Connection.name == data.name, Connection.removed_at.is_(None))
        )
        if existing.first() is not None:
            raise Conflict(f"a connection named {data.name!r} already exists")
        config = ConnectionConfig(
            id="",
            name=data.name,
            vendor=connector.vendor,
            settings=settings,
            secret=secret,
            max_in_flight=data.max_in_flight or connector.default_max_in_flight,
            rate=data.rate or connector.default_rate,
        )
        validation = await _validate(rt, config)
        if not validation.ok:
            raise _failed(validation, connector.label)
        await _free_name(session, data.name)
        conn = Connection(
            name=data.name,
            vendor=connector.vendor,
            settings=connector.dump_settings(settings),
            secret_encrypted=rt.secrets.encrypt(secret),
            max_in_flight=config.max_in_flight,
            rate=config.rate,
            health=ConnectionHealth.OK,
            health_detail=validation.summary,
            last_tested_at=now,
            created_at=now,
            updated_at=now,
        )
        session.add(conn)
        await session.flush()
        audit.record(
            session, actor, "connection.create", audit.target("connection", conn.id), now, detail=detail
        )
        await session.commit()
    except (InvalidInput, Conflict, ValidationFailed) as exc:
        await audit.failure(
            session, actor, "connection.create", audit.target("connection", data.name), now, exc, detail
        )
        raise
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
        raise NotFound(f"no connection named {name_or_id[:100]!r}")
    return conn


async def _existing(
    session: AsyncSession, actor: Actor, action: str, name_or_id: str, now: float
) -> Connection:
    """The connection an action is about; a missing one is audited as that action's failure."""
    try:
        return await get_connection(session, name_or_id)
    except NotFound as exc:
        await audit.failure(session, actor, action, audit.target("connection", name_or_id), now, exc)
        raise


async def test_connection(
    session: AsyncSession, rt: Runtime, actor: Actor, name_or_id: str
) -> tuple[Connection, Validation]:
    """Check a saved connection with its vendor now; its health shows the result."""
    now = rt.clock.now()
    conn = await _existing(session, actor, "connection.test", name_or_id, now)
    validation = await _validate(rt, connection_config(conn, rt.registry, rt.secrets))
    conn.health = ConnectionHealth.OK if validation.ok else ConnectionHealth.FAILING
    conn.health_detail = validation.summary
    conn.last_tested_at = now
    conn.updated_at = now
    audit.record(
        session,
        actor,
        "connection.test",
        audit.target("connection", conn.id),
        now,
        "ok" if validation.ok else "failed",
        message=validation.problem,
    )
    await session.commit()
    return conn, validation


async def update_connection(
    session: AsyncSession, rt: Runtime, actor: Actor, name_or_id: str, patch: ConnectionPatch
) -> tuple[Connection, Validation | None]:
    """Change settings. A change of where calls go or as whom (the project, the region, the host)
    needs the secret again; any change to those or to the secret is checked with the vendor first."""
    now = rt.clock.now()
    changed = sorted(patch.model_fields_set | set(patch.vendor_fields))  # names only: never a secret
    target = audit.target("connection", name_or_id)
    try:
        conn = await get_connection(session, name_or_id)
        target = audit.target("connection", conn.id)
        connector = _connector(rt, conn.vendor)
        raw = patch.vendor_fields
        new_secret = raw.pop(connector.secret_field, None)
        secret = _secret(connector, new_secret) if new_secret not in (None, "") else None
        fields = patch.model_dump(exclude_unset=True, exclude=set(raw) | {connector.secret_field})
        if fields.get("name") not in (None, conn.name):
            clash = await session.execute(
                select(Connection.id).where(
                    Connection.name == fields["name"], Connection.removed_at.is_(None)
                )
            )
            if clash.first() is not None:
                raise Conflict(f"a connection named {fields['name']!r} already exists")
        current = dict(conn.settings)
        settings = parse_settings(rt, connector, current | raw) if raw else connector.load_settings(current)
        after = connector.dump_settings(settings)
        moved = sorted(k for k in connector.identity_fields if after.get(k) != current.get(k))
        if moved and secret is None:
            raise InvalidInput(
                f"changing {', '.join(moved)} needs the {connector.secret_label.lower()} again: "
                f"Rightly never sends a stored {connector.secret_label.lower()} to a new place",
                [{"field": connector.secret_field, "message": "required with this change"}],
            )
        validation = None
        if secret is not None:
            config = ConnectionConfig(
                id=conn.id,
                name=conn.name,
                vendor=conn.vendor,
                settings=settings,
                secret=secret,
                max_in_flight=fields.get("max_in_flight") or conn.max_in_flight,
                rate=fields.get("rate") or conn.rate,
            )
            validation = await _validate(rt, config)
            if not validation.ok:
                raise _failed(validation, connector.label)
            conn.health = ConnectionHealth.OK
            conn.health_detail = validation.summary
            conn.last_tested_at = now
            conn.secret_encrypted = rt.secrets.encrypt(secret)
        conn.settings = after
        for key in ("name", "max_in_flight", "rate"):
            if fields.get(key) is not None:
                setattr(conn, key, fields[key])
        conn.updated_at = now
        audit.record(session, actor, "connection.update", target, now, detail={"fields": changed})
        await session.commit()
    except (InvalidInput, Conflict, ValidationFailed, NotFound) as exc:
        await audit.failure(session, actor, "connection.update", target, now, exc, {"fields": changed})
        raise
    return conn, validation


async def count_open_tasks(session: AsyncSession, connection_id: str) -> int:
    """How many of the connection's tasks are unfinished: what removing it would cancel."""
    query = (
        select(func.count())
        .select_from(Task)
        .where(Task.connection_id == connection_id, Task.done.is_(False))
    )
    return int((await session.execute(query)).scalar() or 0)


async def remove_connection(
    session: AsyncSession, rt: Runtime, actor: Actor, name_or_id: str
) -> tuple[Connection, int]:
    """Remove a connection; its unfinished tasks are canceled (their evidence stays)."""
    now = rt.clock.now()
    conn = await _existing(session, actor, "connection.remove", name_or_id, now)
    canceled = await cancel_open_tasks(
        session, Task.connection_id == conn.id, "connection removed", now, rt.events
    )
    conn.removed_at = now
    conn.updated_at = now
    audit.record(
        session,
        actor,
        "connection.remove",
        audit.target("connection", conn.id),
        now,
        detail={"canceled_tasks": canceled},
    )
    await session.commit()
    return conn, canceled


def connection_view(rt: Runtime, conn: Connection) -> dict[str, Any]:
    """A connection as the faces show it: never the secret, not even encrypted."""
    connector = rt.registry.get(conn.vendor)
    settings = connector.load_settings(conn.settings)
    return {
        "id": conn.id,
        "name": conn.name,
        "vendor": conn.vendor,
        "vendor_label": connector.label,
        "max_in_flight": conn.max_in_flight,
        "rate": conn.rate,
        **connector.dump_settings(settings),
        "target": connector.target(settings),
        "facts": [{"label": label, "value": value} for label, value in connector.describe(settings)],
        "health": conn.health,
        "health_detail": conn.health_detail,
        "last_tested_at": iso(conn.last_tested_at),
        "created_at": iso(conn.created_at),
    }
