"""Connections: the list with health, Add <vendor> (validated before it is saved), a connection's
page with Test and an edit form. The form is drawn from the connector's field specs, so a second
vendor needs no page of its own. No page ever holds a secret: the field is write-only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from rightly.connectors.base import Connector, FieldSpec, UnknownVendor
from rightly.faces.auth import Principal, runtime_of
from rightly.services import connections as svc
from rightly.services.errors import InvalidInput, NotFound, ServiceError, ValidationFailed
from rightly.services.runtime import Runtime
from rightly.store.secrets import SecretError
from rightly.web.render import not_found, render

router = APIRouter()
GENERIC = ("name", "max_in_flight", "rate")


def _principal(request: Request) -> Principal:
    principal: Principal = request.state.principal
    return principal


def _specs(connector: Connector) -> list[FieldSpec]:
    """The fields the web form shows, in order (those the CLI alone offers aside)."""
    return [f for f in connector.fields if not f.cli_only]


def _settings_specs(connector: Connector) -> list[FieldSpec]:
    return [f for f in _specs(connector) if f.name != connector.secret_field]


def _form_values(form: Any, connector: Connector) -> dict[str, str]:
    """What the form sent, the secret aside (it is never echoed back into a page). A field the
    form did not send at all is left out (unchanged), except a checkbox: unticked sends nothing."""
    values = {k: str(form.get(k) or "").strip() for k in GENERIC if k in form}
    for spec in _settings_specs(connector):
        raw = str(form.get(spec.name) or "").strip()
        if spec.kind == "checkbox":
            values[spec.name] = "true" if raw in ("on", "true") else "false"
        elif spec.name in form:
            values[spec.name] = raw
    return values


def _given(values: dict[str, str], connector: Connector) -> dict[str, Any]:
    """The values to submit: an empty field means "none" where the setting may be empty, and
    "the default" (or, editing, "unchanged") where it has one."""
    model = connector.settings_model.model_fields
    return {
        k: (v or None)
        for k, v in values.items()
        if v != "" or (k in model and model[k].default is None and not model[k].is_required())
    }


def _text(value: Any) -> str:
    """A stored setting as the form shows it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _errors(exc: ValidationError | InvalidInput) -> dict[str, str]:
    if isinstance(exc, InvalidInput):
        pairs = [(e["field"].split(".")[0], e["message"]) for e in exc.errors] or [("form", str(exc))]
    else:
        pairs = [
            (str(e["loc"][0]) if e["loc"] else "form", str(e["msg"]).removeprefix("Value error, "))
            for e in exc.errors()
        ]
    out: dict[str, str] = {}
    for field, message in pairs:
        out.setdefault(field, message)
    return out


def _connector(rt: Runtime, vendor: str | None) -> Connector:
    try:
        return rt.registry.get(vendor) if vendor else rt.registry.default
    except UnknownVendor:
        return rt.registry.default


def _defaults(connector: Connector) -> dict[str, str]:
    values = {"name": connector.vendor, "max_in_flight": str(connector.default_max_in_flight)}
    values["rate"] = str(connector.default_rate)
    for name, info in connector.settings_model.model_fields.items():
        if info.default is not None and not callable(info.default):
            values[name] = _text(getattr(info.default, "value", info.default))
    return values


def _form(request: Request, connector: Connector, status: int = 200, **context: Any) -> Response:
    rt = runtime_of(request)
    context.setdefault("values", _defaults(connector))
    context.setdefault("errors", {})
    return render(
        request,
        "connection_new.html",
        status,
        connector=connector,
        specs=_specs(connector),
        vendors=[(c.vendor, c.label) for c in rt.registry],
        **context,
    )


@router.get("/connections")
async def connections_page(request: Request) -> Response:
    rt = runtime_of(request)
    async with rt.db.session() as s:
        conns = await svc.list_connections(s)
    vendors = list(rt.registry)
    add_label = vendors[0].label if len(vendors) == 1 else "an integration"
    views = [svc.connection_view(rt, c) for c in conns]
    return render(request, "connections.html", connections=views, add_label=add_label)


@router.get("/connections/new")
async def new_connection_page(request: Request) -> Response:
    return _form(request, _connector(runtime_of(request), request.query_params.get("vendor")))


@router.post("/connections/new")
async def new_connection_submit(request: Request) -> Response:
    form = await request.form()
    rt = runtime_of(request)
    connector = _connector(rt, str(form.get("vendor") or "") or None)
    values = _form_values(form, connector)
    fields = _given(values, connector)
    fields[connector.secret_field] = str(form.get(connector.secret_field) or "")
    try:
        data = svc.ConnectionInput.model_validate({"vendor": connector.vendor, **fields})
    except ValidationError as exc:
        return _form(request, connector, 422, values=values, errors=_errors(exc))
    async with rt.db.session() as s:
        try:
            conn, _ = await svc.connect(s, rt, _principal(request).actor, data)
        except ValidationFailed as exc:
            return _form(request, connector, 422, values=values, failed=str(exc), checks=exc.checks)
        except InvalidInput as exc:
            return _form(request, connector, 422, values=values, errors=_errors(exc))
        except (ServiceError, SecretError) as exc:
            return _form(request, connector, 422, values=values, failed=str(exc), checks=[])
    return RedirectResponse(f"/connections/{conn.id}?notice=connected", status_code=303)


async def _show(request: Request, connection_id: str, status: int = 200, **context: Any) -> Response:
    rt = runtime_of(request)
    async with rt.db.session() as s:
        try:
            conn = await svc.get_connection(s, connection_id)
        except NotFound as exc:
            return not_found(request, "connection", exc)
    view = svc.connection_view(rt, conn)
    connector = rt.registry.get(conn.vendor)
    names = (*GENERIC, *(f.name for f in _settings_specs(connector)))
    context.setdefault("values", {k: _text(view.get(k)) for k in names})
    context.setdefault("errors", {})
    if request.query_params.get("notice") == "connected":
        context["notice"] = f"{connector.label} is connected: every check passed and the connection is saved."
    return render(
        request, "connection.html", status, conn=view, connector=connector, specs=_specs(connector), **context
    )


@router.get("/connections/{connection_id}")
async def connection_page(connection_id: str, request: Request) -> Response:
    return await _show(request, connection_id)


@router.post("/connections/{connection_id}/test")
async def test_connection_submit(connection_id: str, request: Request) -> Response:
    rt = runtime_of(request)
    async with rt.db.session() as s:
        try:
            _, validation = await svc.test_connection(s, rt, _principal(request).actor, connection_id)
        except NotFound as exc:
            return not_found(request, "connection", exc)
        except (ServiceError, SecretError) as exc:
            return render(request, "error.html", 409, title="Could not test", detail=str(exc))
    checks = [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in validation.checks]
    return await _show(request, connection_id, tested=True, test_ok=validation.ok, checks=checks)


@router.post("/connections/{connection_id}/edit")
async def edit_connection_submit(connection_id: str, request: Request) -> Response:
    form = await request.form()
    rt = runtime_of(request)
    async with rt.db.session() as s:
        try:
            conn = await svc.get_connection(s, connection_id)
        except NotFound as exc:
            return not_found(request, "connection", exc)
        connector = rt.registry.get(conn.vendor)
        values = _form_values(form, connector)
        current = svc.connection_view(rt, conn)
        given = _given(values, connector)
        changed = {k: v for k, v in given.items() if _text(v) != _text(current.get(k))}
        secret = str(form.get(connector.secret_field) or "")
        if secret:  # empty keeps the stored secret
            changed[connector.secret_field] = secret
        try:
            patch = svc.ConnectionPatch.model_validate(changed)
        except ValidationError as exc:
            return await _show(request, connection_id, 422, values=values, errors=_errors(exc))
        try:
            await svc.update_connection(s, rt, _principal(request).actor, conn.id, patch)
        except ValidationFailed as exc:
            return await _show(request, connection_id, 422, values=values, failed=str(exc), checks=exc.checks)
        except InvalidInput as exc:
            return await _show(
                request, connection_id, 422, values=values, errors=_errors(exc), failed=str(exc)
            )
        except (ServiceError, SecretError) as exc:
            return await _show(request, connection_id, 422, values=values, failed=str(exc), checks=[])
    return RedirectResponse(f"/connections/{conn.id}?notice=saved", status_code=303)
