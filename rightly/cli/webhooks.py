"""``rightly webhook add|list|show|test|remove``, ``rightly report metrics``, ``rightly retention run``."""

from __future__ import annotations

import typer
from rich.table import Table

from rightly.cli.common import err, fail, out, print_json, run
from rightly.cli.proofs import metrics_table, parse_day
from rightly.services import metrics, retention
from rightly.services import webhooks as svc
from rightly.services.audit import Actor
from rightly.services.errors import InvalidInput
from rightly.services.runtime import Runtime

webhook_app = typer.Typer(help="Send events to other systems (Standard Webhooks).", no_args_is_help=True)
report_app = typer.Typer(help="Reports.", no_args_is_help=True)
retention_app = typer.Typer(help="Retention of personal data.", no_args_is_help=True)


@webhook_app.command("add")
def add(
    url: str = typer.Argument(..., help="Where to POST events: an https:// (or http://) URL."),
    events: str = typer.Option(..., help=f"Comma-separated: {', '.join(svc.EVENTS)}."),
    description: str | None = typer.Option(None, help="What receives them (shown in lists)."),
) -> None:
    """Add an endpoint; its signing secret is printed this once."""

    async def body(rt: Runtime) -> None:
        async with rt.db.session() as s:
            ep, secret = await svc.add(s, rt, Actor.cli(), url, events.split(","), description)
        out.print(f"added webhook [bold]{ep.id}[/bold] → {ep.url} ({', '.join(ep.events)})", highlight=False)
        out.print(
            f"signing secret (shown once; the receiver needs it to check signatures): {secret}",
            highlight=False,
        )

    run(body)


@webhook_app.command("list")
def list_(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Endpoints, their events and how delivery is going."""

    async def body(rt: Runtime) -> None:
        async with rt.db.session() as s:
            views = []
            for ep in await svc.list_endpoints(s):
                last = await svc.attempts(s, ep.id, limit=1)
                views.append(svc.endpoint_view(ep, last[0] if last else None))
        if json_:
            print_json(views)
            return
        table = Table(title="Webhook endpoints", title_justify="left")
        for col in ("id", "url", "events", "state", "last attempt"):
            table.add_column(col)
        for v in views:
            last = v["last_attempt"]
            seen = f"{last['at']} {last['status_code'] or last['error']}" if last else "-"
            table.add_row(v["id"], v["url"], ", ".join(v["events"]), v["state"], seen)
        out.print(table)

    run(body)


@webhook_app.command("show")
def show(endpoint_id: str, json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """An endpoint and its latest delivery attempts."""

    async def body(rt: Runtime) -> None:
        async with rt.db.session() as s:
            ep = await svc.get_endpoint(s, endpoint_id)
            tries = await svc.attempts(s, ep.id, limit=50)
        view = svc.endpoint_view(ep, tries[0] if tries else None) | {
            "attempts": [svc.attempt_view(a) for a in tries]
        }
        if json_:
            print_json(view)
            return
        out.print(f"{ep.id} → {ep.url}: {view['state']}", highlight=False)
        if ep.disabled_reason:
            out.print(f"disabled: {ep.disabled_reason}", highlight=False)
        table = Table(title="Delivery attempts, newest first", title_justify="left")
        for col in ("when", "event", "message", "attempt", "HTTP", "result"):
            table.add_column(col)
        for a in view["attempts"]:
            table.add_row(
                a["at"],
                a["event"],
                a["message_id"],
                str(a["attempt"]),
                str(a["status_code"] or "-"),
                "ok" if a["ok"] else (a["error"] or "failed"),
            )
        out.print(table)

    run(body)


@webhook_app.command("test")
def test(endpoint_id: str) -> None:
    """Queue a webhook.test message to the endpoint (a worker delivers it)."""

    async def body(rt: Runtime) -> None:
        async with rt.db.session() as s:
            message = await svc.send_test(s, rt, Actor.cli(), endpoint_id)
        out.print(f"queued test message {message}; `rightly webhook show {endpoint_id}` shows how it went")

    run(body)


@webhook_app.command("remove")
def remove(endpoint_id: str) -> None:
    """Stop delivering to an endpoint."""

    async def body(rt: Runtime) -> None:
        async with rt.db.session() as s:
            ep = await svc.remove(s, rt, Actor.cli(), endpoint_id)
        out.print(f"removed webhook {ep.id}")

    run(body)


@report_app.command("metrics")
def report_metrics(
    year: int | None = typer.Option(None, help="A calendar year (UTC)."),
    since: str | None = typer.Option(None, help="First day (2026-01-01), with --until."),
    until: str | None = typer.Option(None, help="Last day, inclusive (2026-06-30), with --since."),
    format: str = typer.Option("table", "--format", help="table, csv or json."),
) -> None:
    """Requests received, complied with in whole or in part, denied, and the median and mean days to
    respond, per request type and regulation (CCPA §7102)."""
    if format not in ("table", "csv", "json"):
        fail("--format must be table, csv or json", 2)
    try:
        period = metrics.period(
            year, parse_day(since, "since") if since else None, parse_day(until, "until") if until else None
        )
    except InvalidInput as exc:
        fail(str(exc), 2)

    async def body(rt: Runtime) -> None:
        async with rt.db.session() as s:
            result = await metrics.report(s, period)
        if format == "json":
            print_json(result)
        elif format == "csv":
            out.file.write(metrics.to_csv(result))
        else:
            out.print(metrics_table(result))

    run(body)


@retention_app.command("run")
def retention_run() -> None:
    """Apply the retention periods now (the worker does it every hour)."""

    async def body(rt: Runtime) -> None:
        total = retention.Swept()
        while True:
            done = await retention.run(rt)
            total.results_deleted += done.results_deleted
            total.redacted += done.redacted
            if not done.more:
                break
        err.print(f"access results deleted: {total.results_deleted}; requests redacted: {total.redacted}")

    run(body)
