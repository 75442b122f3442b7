"""``rightly outbox list|show``: the messages to people, where a super admin reads them when no mail
server is configured (run on the server, as its operator: each reading is audited)."""

from __future__ import annotations

import typer
from rich.table import Table

from rightly.cli.common import out, print_json, run
from rightly.services import messages
from rightly.services.audit import Actor
from rightly.services.runtime import Runtime

outbox_app = typer.Typer(
    help="Read the messages sent (or kept, without a mail server) to people.", no_args_is_help=True
)


@outbox_app.command("list")
def list_(
    limit: int = typer.Option(50, min=1, max=1000),
    request: str | None = typer.Option(None, "--request", help="Only this request's messages."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The newest messages first: to whom, what, and whether it went out."""

    async def body(rt: Runtime) -> None:
        async with rt.db.session() as s:
            items, total = await messages.list_messages(s, request_id=request, limit=limit)
        views = [messages.message_view(m) | {"subject": messages.body_of(rt, m).subject} for m in items]
        if json_:
            print_json(views)
            return
        table = Table(title=f"outbox ({len(views)} of {total})", title_justify="left")
        for col in ("id", "queued", "to", "subject", "status", "request"):
            table.add_column(col)
        for v in views:
            status = v["status"] + (f" ({v['last_error']})" if v["last_error"] else "")
            table.add_row(v["id"], v["created_at"], v["to"], v["subject"], status, v["request_id"] or "")
        out.print(table)
        if not rt.settings.smtp_url:
            out.print(
                "no mail server is configured (RIGHTLY_SMTP_URL): messages are kept here; `rightly outbox show ID` reads one"
            )

    run(body)


@outbox_app.command("show")
def show(
    message_id: str,
    html: bool = typer.Option(False, "--html", help="Print the HTML part instead of the text."),
    json_: bool = typer.Option(False, "--json", help="Print JSON (both parts)."),
) -> None:
    """One message as its recipient reads it (the reading is audited: it may carry a link)."""

    async def body(rt: Runtime) -> None:
        async with rt.db.session() as s:
            message, parts = await messages.read_message(s, rt, Actor.cli(), message_id)
        if json_:
            print_json(messages.message_view(message, parts))
            return
        out.print(
            f"To: {message.recipient}\nSubject: {parts.subject}\nStatus: {message.status}\n",
            highlight=False,
            markup=False,
        )
        out.print(parts.html if html else parts.text, highlight=False, markup=False, soft_wrap=True)

    run(body)
