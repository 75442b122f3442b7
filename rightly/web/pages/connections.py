"""Connections: the list with health, Add CleverTap (validated before it is saved), a connection's
page with Test and an edit form. No page ever holds a passcode: the field is write-only."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from rightly.api.auth import Principal, runtime_of
from rightly.api.deps import audited
from rightly.domain.enums import DeletionBehavior
from rightly.domain.regions import REGIONS
from rightly.domain.work import SETTINGS
from rightly.services import audit
from rightly.services import connections as svc
from rightly.services.errors import NotFound, ServiceError, ValidationFailed
from rightly.store.models import Connection
from rightly.store.secrets import SecretError
from rightly.web.render import not_found, render

router = APIRouter()

REGION_CHOICES = sorted(((r.code, r.label) for r in REGIONS.values()), key=lambda c: c[1])
BEHAVIORS = [
    (
        DeletionBehavior.ON_SUBMIT.value,
        "Mark integration as complete when a deletion request is successfully submitted",
        "Faster: the task is complete as soon as CleverTap accepts the deletion; nobody checks it "
        "really happened.",
    ),
    (
        DeletionBehavior.UNTIL_COMPLETE.value,
        "Continue processing until the deletion request is completed",
        "Proven: Rightly keeps looking the subject up until CleverTap's nightly batch has removed "
        "them (usually within 48 hours).",
    ),
]
TROUBLESHOOTING = [
    (
        "Credentials",
        "Copy the Project ID and a Passcode again from Settings > Project in CleverTap; a passcode "
        "that expired or was deleted is refused.",
    ),
    (
        "Region",
        "Pick the region your dashboard URL starts with (us1.dashboard.clevertap.com is us1). A project "
        "in another region answers exactly like a wrong passcode.",
    ),
    (
        "Delete permission",
        "Deletions need an Admin: use the account passcode, or the passcode of a user with CleverTap's "
        "Admin role.",
    ),
    (
        "Network",
        "Rightly must reach https://<region>.api.clevertap.com over HTTPS: check firewalls and proxies, "
        "or set the API base URL under Advanced settings.",
    ),
]
# Every setting but the verification interval, which the CLI and the API offer (for tests and demos).
FIELDS = tuple(key for key in SETTINGS if key != "verify_interval")
CHECKBOXES = frozenset({"email_is_identity"})


def _principal(request: Request) -> Principal:
    principal: Principal = request.state.principal
    return principal


def _form_values(form: Any) -> dict[str, str]:
    values = {k: str(form.get(k) or "").strip() for k in FIELDS}
    for k in CHECKBOXES:  # an unticked box sends nothing
        values[k] = "true" if values[k] in ("on", "true") else "false"
    values["timezone"] = values["timezone"] or "UTC"
    return values


def _text(value: Any) -> str:
    """A stored setting as the form shows it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _input(values: dict[str, str], passcode: str) -> dict[str, Any]:
    data: dict[str, Any] = {k: v for k, v in values.items() if v != ""}
    data["passcode"] = passcode
    return data


def _field_errors(exc: ValidationError) -> dict[str, str]:
    out: dict[str, str] = {}
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else "form"
        out.setdefault(field, err["msg"].removeprefix("Value error, "))
    return out


def _form(request: Request, status: int = 200, **context: Any) -> Response:
    context.setdefault("values", {"region": "us1", "deletion_behavior": "until-complete"})
    context.setdefault("errors", {})
    return render(
        request,
        "connection_new.html",
        status,
        regions=REGION_CHOICES,
        behaviors=BEHAVIORS,
        troubleshooting=TROUBLESHOOTING,
        **context,
    )


@router.get("/connections")
async def connections_page(request: Request) -> Response:
    rt = runtime_of(request)
    async with rt.db.session() as s:
        conns = await svc.list_connections(s)
    return render(request, "connections.html", connections=[svc.connection_view(c) for c in conns])


@router.get("/connections/new")
async def new_connection_page(request: Request) -> Response:
    return _form(request)


@router.post("/connections/new")
async def new_connection_submit(request: Request) -> Response:
    form = await request.form()
    values = _form_values(form)
    try:
        data = svc.ConnectionInput(**_input(values, str(form.get("passcode") or "")))
    except ValidationError as exc:
        return _form(request, 422, values=values, errors=_field_errors(exc))
    rt = runtime_of(request)

    def new_connection(sync: Session) -> str:
        ids = [o.id for o in sync.identity_map.values() if isinstance(o, Connection) and o.name == data.name]
        return f"connection:{ids[0] if ids else data.name}"

    async with rt.db.session() as s:
        try:
            conn, _ = await audited(
                s,
                rt,
                _principal(request),
                "connection.create",
                f"connection:{data.name}",
                lambda: svc.connect(s, rt, data),
                find_target=new_connection,
                detail={"name": data.name, "project_id": data.project_id, "region": data.region},
            )
        except ValidationFailed as exc:
            return _form(request, 422, values=values, failed=str(exc), checks=exc.checks)
        except (ServiceError, SecretError) as exc:
            return _form(request, 422, values=values, failed=str(exc), checks=[])
    return RedirectResponse(f"/connections/{conn.id}?notice=connected", status_code=303)


async def _show(request: Request, connection_id: str, status: int = 200, **context: Any) -> Response:
    rt = runtime_of(request)
    async with rt.db.session() as s:
        try:
            conn = await svc.get_connection(s, connection_id)
        except NotFound as exc:
            return not_found(request, "connection", exc)
    view = svc.connection_view(conn)
    context.setdefault("values", {k: _text(view[k]) for k in FIELDS})
    context.setdefault("errors", {})
    return render(
        request,
        "connection.html",
        status,
        conn=view,
        regions=REGION_CHOICES,
        behaviors=BEHAVIORS,
        troubleshooting=TROUBLESHOOTING,
        **context,
    )


@router.get("/connections/{connection_id}")
async def connection_page(connection_id: str, request: Request) -> Response:
    return await _show(request, connection_id)


@router.post("/connections/{connection_id}/test")
async def test_connection_submit(connection_id: str, request: Request) -> Response:
    rt = runtime_of(request)
    async with rt.db.session() as s:
        try:
            conn, validation = await svc.test_connection(s, rt, connection_id)
        except (ServiceError, SecretError) as exc:
            return render(request, "error.html", 404, title="Could not test", detail=str(exc))
        audit.record(
            s,
            _principal(request).actor,
            "connection.test",
            f"connection:{conn.id}",
            rt.clock.now(),
            "ok" if validation.ok else "failed",
            message=validation.problem,
        )
        await s.commit()
    return await _show(
        request,
        connection_id,
        tested=True,
        test_ok=validation.ok,
        checks=[asdict(c) for c in validation.checks],
    )


@router.post("/connections/{connection_id}/edit")
async def edit_connection_submit(connection_id: str, request: Request) -> Response:
    form = await request.form()
    values = _form_values(form)
    passcode = str(form.get("passcode") or "")
    rt = runtime_of(request)
    async with rt.db.session() as s:
        try:
            conn = await svc.get_connection(s, connection_id)
        except NotFound as exc:
            return not_found(request, "connection", exc)
        current = svc.connection_view(conn)
        changed: dict[str, Any] = {}
        for key in FIELDS:
            now_value = _text(current[key])
            if values[key] != now_value:
                changed[key] = values[key] or None
        if passcode:  # empty keeps the stored passcode
            changed["passcode"] = passcode
        try:
            patch = svc.ConnectionPatch(**changed)
        except ValidationError as exc:
            return await _show(request, connection_id, 422, values=values, errors=_field_errors(exc))
        try:
            await audited(
                s,
                rt,
                _principal(request),
                "connection.update",
                f"connection:{conn.id}",
                lambda: svc.update_connection(s, rt, conn.id, patch),
                detail={"fields": sorted(patch.model_fields_set)},  # names only: never a passcode
            )
        except ValidationFailed as exc:
            return await _show(request, connection_id, 422, values=values, failed=str(exc), checks=exc.checks)
        except (ServiceError, SecretError) as exc:
            return await _show(request, connection_id, 422, values=values, failed=str(exc), checks=[])
    return RedirectResponse(f"/connections/{conn.id}?notice=saved", status_code=303)
