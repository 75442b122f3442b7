"""``rightly connect VENDOR`` and ``rightly connections list|test|remove``.

``rightly connect clevertap --name N --project-id P --region us1`` takes its options from the
connector's field specs (``--project-id`` for ``project_id``; a checkbox is a flag), so a second
vendor brings its own options without a change here. The secret is asked for without echo, or read
from standard input with ``--<secret>-stdin`` (``--passcode-stdin``)."""

from __future__ import annotations

import sys
from typing import Any

import typer
from pydantic import ValidationError

from rightly.cli.common import fail, out, print_json, run, wiring
from rightly.cli.render import connections_table, styled
from rightly.connectors.base import Connector, FieldSpec, UnknownVendor
from rightly.services import connections as svc
from rightly.services.audit import Actor
from rightly.services.errors import InvalidInput, ValidationFailed
from rightly.services.runtime import Runtime

connections_app = typer.Typer(help="List, test and remove connections.", no_args_is_help=True)
GENERIC = (
    FieldSpec("name", "A name for this connection in Rightly, e.g. 'clevertap-prod'", required=True),
    FieldSpec("max_in_flight", "At most this many calls in flight to this account", kind="number"),
    FieldSpec("rate", "At most this many calls per second to this account", kind="number"),
)


def option(name: str) -> str:
    return "--" + name.replace("_", "-")


def usage(connector: Connector) -> str:
    lines = [
        f"rightly connect {connector.vendor} [OPTIONS]",
        "",
        f"Connect {connector.label}: checked at once, saved only if every check passes.",
        "",
    ]
    for spec in (*GENERIC, *connector.fields):
        if spec.name == connector.secret_field:
            text = f"{option(spec.name)}-stdin  read the {spec.label.lower()} from standard input (else: a prompt without echo)"
        else:
            flag = option(spec.name) if spec.kind == "checkbox" else f"{option(spec.name)} VALUE"
            values = f" [{'|'.join(c[0] for c in spec.choices)}]" if spec.choices else ""
            need = " (required)" if spec.required else ""
            text = f"{flag}{values}{need}  {spec.label}. {spec.help}".rstrip()
        lines.append("  " + text)
    return "\n".join(lines)


def parse_options(connector: Connector, args: list[str]) -> tuple[dict[str, Any], bool]:
    """The values given as ``--option value`` (or ``--option=value``; a flag for a checkbox), and
    whether the secret comes from standard input."""
    specs = {option(s.name): s for s in (*GENERIC, *connector.fields) if s.name != connector.secret_field}
    stdin_flag = option(connector.secret_field) + "-stdin"
    values: dict[str, Any] = {}
    from_stdin = False
    i = 0
    while i < len(args):
        arg = args[i]
        key, eq, inline = arg.partition("=")
        if key == stdin_flag:
            from_stdin = True
        elif key == option(connector.secret_field):
            fail(
                f"never give the {connector.secret_label.lower()} on the command line: use {stdin_flag}, or answer the prompt"
            )
        elif key in specs and specs[key].kind == "checkbox":
            values[specs[key].name] = inline.lower() not in ("false", "0", "no") if eq else True
        elif key in specs:
            if not eq:
                i += 1
                if i >= len(args):
                    fail(f"{key} needs a value")
                inline = args[i]
            values[specs[key].name] = inline
        else:
            fail(
                f"unknown option {arg!r} for {connector.label}; see: rightly connect {connector.vendor} --help"
            )
        i += 1
    return values, from_stdin


def read_secret(connector: Connector, from_stdin: bool) -> str:
    if from_stdin:
        value = sys.stdin.readline().strip()
        if not value:
            fail(
                f"{option(connector.secret_field)}-stdin was given but standard input held no {connector.secret_label.lower()}"
            )
        return value
    return str(typer.prompt(f"{connector.label} {connector.secret_label.lower()}", hide_input=True))


def connect(
    ctx: typer.Context, vendor: str | None = typer.Argument(None, help="The integration, e.g. clevertap.")
) -> None:
    """Connect an integration (rightly connect VENDOR --help lists its options)."""
    registry = wiring().registry
    if vendor is None or vendor in ("--help", "-h"):
        out.print("rightly connect VENDOR [OPTIONS]; VENDOR is one of:", highlight=False)
        for c in registry:
            out.print(
                f"  {c.vendor}  ({c.label}): rightly connect {c.vendor} --help", highlight=False, markup=False
            )
        raise typer.Exit(0 if vendor else 2)
    try:
        connector = registry.get(vendor.lower())
    except UnknownVendor as exc:
        fail(str(exc))
    if "--help" in ctx.args or "-h" in ctx.args:
        out.print(usage(connector), highlight=False, markup=False)
        raise typer.Exit(0)
    values, from_stdin = parse_options(connector, list(ctx.args))
    if "name" not in values:
        fail("--name is required: a name for this connection in Rightly")
    secret = read_secret(connector, from_stdin)
    try:
        data = svc.ConnectionInput.model_validate(
            {"vendor": connector.vendor, **values, connector.secret_field: secret}
        )
    except ValidationError as exc:
        fail(validation_message(exc))

    async def body(rt: Runtime) -> None:
        async with rt.db.session() as s:
            try:
                conn, validation = await svc.connect(s, rt, Actor.cli(), data)
            except ValidationFailed as exc:
                fail(f"not saved: {exc}")
        for check in validation.checks:
            out.print(f"[green]✓[/green] {check.name}: {check.detail}", highlight=False)
        view = svc.connection_view(rt, conn)
        out.print(f"connected [bold]{conn.name}[/bold] ({view['target']})", highlight=False)

    run(body)


def validation_message(exc: ValidationError | InvalidInput) -> str:
    if isinstance(exc, InvalidInput):
        return str(exc)
    parts = []
    for e in exc.errors():
        field = option(".".join(str(p) for p in e["loc"]))
        parts.append(f"{field}: {e['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


@connections_app.command("list")
def list_(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the configured connections (never their secrets)."""

    async def body(rt: Runtime) -> None:
        async with rt.db.session() as s:
            views = [svc.connection_view(rt, c) for c in await svc.list_connections(s)]
        if json_:
            print_json(views)
        elif not views:
            out.print("no connections yet: rightly connect --help")
        else:
            out.print(connections_table(views))

    run(body)


@connections_app.command("test")
def test(name: str = typer.Argument(..., help="Connection name or id.")) -> None:
    """Check a connection's credentials and permissions with its vendor now."""

    async def body(rt: Runtime) -> None:
        async with rt.db.session() as s:
            conn, validation = await svc.test_connection(s, rt, Actor.cli(), name)
        for check in validation.checks:
            mark = "[green]✓[/green]" if check.ok else "[red]✗[/red]"
            out.print(f"{mark} {check.name}: {check.detail}", highlight=False)
        out.print(f"{conn.name}: {styled(conn.health)}")
        if not validation.ok:
            raise SystemExit(1)

    run(body)


@connections_app.command("remove")
def remove(name: str = typer.Argument(..., help="Connection name or id.")) -> None:
    """Remove a connection; its unfinished tasks are canceled, its evidence is kept."""

    async def body(rt: Runtime) -> None:
        async with rt.db.session() as s:
            conn, canceled = await svc.remove_connection(s, rt, Actor.cli(), name)
        tasks = "1 unfinished task" if canceled == 1 else f"{canceled} unfinished tasks"
        out.print(f"removed {conn.name}" + (f"; canceled {tasks}" if canceled else ""))

    run(body)
