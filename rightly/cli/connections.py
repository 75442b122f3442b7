"""``rightly connect clevertap`` and ``rightly connections list|test|remove``."""

from __future__ import annotations

import sys

import typer
from pydantic import SecretStr, ValidationError

from rightly.cli.common import fail, out, print_json, run
from rightly.cli.render import connections_table, styled
from rightly.domain.enums import DeletionBehavior
from rightly.domain.regions import REGIONS
from rightly.services import connections as svc
from rightly.services.errors import ValidationFailed
from rightly.services.runtime import Runtime

connect_app = typer.Typer(help="Connect an integration.", no_args_is_help=True)
connections_app = typer.Typer(help="List, test and remove connections.", no_args_is_help=True)

REGION_HELP = "CleverTap data center: " + ", ".join(f"{r.code} ({r.name})" for r in REGIONS.values())


def read_passcode(from_stdin: bool) -> str:
    if from_stdin:
        value = sys.stdin.readline().strip()
        if not value:
            fail("--passcode-stdin was given but standard input held no passcode")
        return value
    return str(typer.prompt("CleverTap passcode", hide_input=True))


def validation_message(exc: ValidationError) -> str:
    parts = []
    for e in exc.errors():
        field = ".".join(str(p) for p in e["loc"])
        parts.append(f"{field}: {e['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


@connect_app.command("clevertap")
def connect_clevertap(
    name: str = typer.Option(..., help="A name for this connection, e.g. 'clevertap-prod'."),
    project_id: str = typer.Option(..., help="Project ID (CleverTap: Settings > Project)."),
    region: str = typer.Option(..., help=REGION_HELP),
    passcode_stdin: bool = typer.Option(
        False, help="Read the passcode from standard input instead of a prompt."
    ),
    deletion_behavior: DeletionBehavior = typer.Option(
        DeletionBehavior.UNTIL_COMPLETE,
        help="until-complete: stay processing until lookups prove the profile gone; on-submit: complete once accepted.",
    ),
    max_in_flight: int = typer.Option(3, help="At most this many calls in flight to this project."),
    rate: float = typer.Option(3.0, help="At most this many calls per second to this project."),
    email_is_identity: bool = typer.Option(
        False, help="The project's CleverTap identity is the user's email."
    ),
    verify_interval: float | None = typer.Option(
        None,
        help="First verification check after this many seconds (scales the whole schedule; default 1 hour).",
    ),
    api_base_url: str | None = typer.Option(
        None, help="Replace https://<region>.api.clevertap.com (a proxy, the emulator)."
    ),
    timezone: str = typer.Option(
        "UTC", help="The project's time zone (CleverTap: Settings > Project), for its nightly deletion batch."
    ),
) -> None:
    """Connect a CleverTap project. Checks the credentials and the delete permission at once; saves only if both pass."""
    if region.strip().lower() not in REGIONS:
        fail(f"unknown CleverTap region {region!r}; expected one of: {', '.join(REGIONS)}")
    passcode = read_passcode(passcode_stdin)
    try:
        data = svc.ConnectionInput(
            name=name,
            project_id=project_id,
            passcode=SecretStr(passcode),
            region=region,
            deletion_behavior=deletion_behavior,
            max_in_flight=max_in_flight,
            rate=rate,
            email_is_identity=email_is_identity,
            verify_interval=verify_interval,
            api_base_url=api_base_url,
            timezone=timezone,
        )
    except ValidationError as exc:
        fail(validation_message(exc))

    async def body(rt: Runtime) -> None:
        async with rt.db.session() as s:
            try:
                conn, validation = await svc.connect(s, rt, data)
            except ValidationFailed as exc:
                fail(f"not saved: {exc}")
        for check in validation.checks:
            out.print(f"[green]✓[/green] {check.name}: {check.detail}", highlight=False)
        out.print(
            f"connected [bold]{conn.name}[/bold] ({conn.project_id}, {conn.region}); deletion behaviour {conn.deletion_behavior}"
        )

    run(body)


@connections_app.command("list")
def list_(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the configured connections (never their passcodes)."""

    async def body(rt: Runtime) -> None:
        async with rt.db.session() as s:
            views = [svc.connection_view(c) for c in await svc.list_connections(s)]
        if json_:
            print_json(views)
        elif not views:
            out.print("no connections yet: rightly connect clevertap --help")
        else:
            out.print(connections_table(views))

    run(body)


@connections_app.command("test")
def test(name: str = typer.Argument(..., help="Connection name or id.")) -> None:
    """Check a connection's credentials and delete permission with CleverTap now."""

    async def body(rt: Runtime) -> None:
        async with rt.db.session() as s:
            conn, validation = await svc.test_connection(s, rt, name)
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
            conn, canceled = await svc.remove_connection(s, rt, name)
        out.print(f"removed {conn.name}" + (f"; canceled {canceled} unfinished task(s)" if canceled else ""))

    run(body)
