"""``rightly request access|delete|show|list|cancel|retry``."""

from __future__ import annotations

import asyncio

import typer
from rich.live import Live

from rightly.cli.common import fail, out, print_json, run
from rightly.cli.render import records_table, request_table, requests_table
from rightly.domain.enums import TERMINAL_REQUEST, RequestStatus, RequestType
from rightly.services import deadlines, review
from rightly.services import requests as svc
from rightly.services.audit import Actor
from rightly.services.runtime import Runtime

request_app = typer.Typer(help="Submit and follow privacy requests.", no_args_is_help=True)

JSON = typer.Option(False, "--json", help="Print the request as JSON.")
WAIT = typer.Option(False, "--wait", help="Process in the foreground until the request finishes.")


async def show(rt: Runtime, request_id: str, as_json: bool) -> dict[str, object]:
    async with rt.db.session() as s:
        view = svc.request_view(await svc.get_request(s, request_id))
    if as_json:
        print_json(view)
    else:
        out.print(request_table(view))
        if (records := records_table(view)) is not None:
            out.print(records)
    return view


async def wait_for(rt: Runtime, request_id: str, live: bool) -> None:
    """Run a worker in this process until the request is terminal, showing its progress."""
    worker = rt.worker()
    stop = asyncio.Event()
    job = asyncio.create_task(worker.run(stop))
    try:
        display = Live(console=out, refresh_per_second=4, transient=True) if live else None
        if display:
            display.start()
        try:
            while True:
                async with rt.db.session() as s:
                    view = svc.request_view(await svc.get_request(s, request_id))
                if display:
                    display.update(request_table(view))
                if view["status"] in TERMINAL_REQUEST or job.done():
                    break
                await asyncio.sleep(0.2)
        finally:
            if display:
                display.stop()
    finally:
        stop.set()
        await job


VERIFIED = typer.Option(
    False,
    "--verified",
    help="You have checked the person's identity: the request runs at once. Otherwise a request with "
    "an email waits until the person follows the link Rightly emails them.",
)
REGULATION = typer.Option(
    None, help="gdpr, ccpa or other: it sets the deadline (default: RIGHTLY_DEFAULT_REGULATION)."
)


def _submit(
    kind: RequestType,
    email: str | None,
    user_id: str | None,
    wait: bool,
    as_json: bool,
    verified: bool,
    regulation: str | None,
) -> None:
    if wait and email and not verified:
        fail(
            "--wait needs --verified: an unverified request waits for the person to follow the emailed "
            "link, which may take days. Check their identity and add --verified, or leave out --wait."
        )

    async def body(rt: Runtime) -> None:
        async with rt.db.session() as s:
            req, _ = await svc.submit(
                s, rt, Actor.cli(), kind, email, user_id, verified=verified, regulation=regulation
            )
        if not as_json and not wait:
            if req.status == RequestStatus.PENDING_VERIFICATION:
                out.print(
                    f"submitted {kind.value} request [bold]{req.id}[/bold]: the subject was emailed a link "
                    "to confirm it, and it runs once they do (`rightly outbox list` without a mail server)"
                )
            else:
                out.print(
                    f"submitted {kind.value} request [bold]{req.id}[/bold]; run `rightly worker` to process it"
                )
        if wait:
            await wait_for(rt, req.id, live=not as_json)
        view = await show(rt, req.id, as_json)
        if wait and view["status"] == RequestStatus.ERROR:
            raise SystemExit(2)

    run(body)


@request_app.command("access")
def access(
    email: str | None = typer.Option(None, help="The subject's email."),
    user_id: str | None = typer.Option(
        None, help="The subject's user ID (the identity your systems know them by)."
    ),
    wait: bool = WAIT,
    json_: bool = JSON,
    verified: bool = VERIFIED,
    regulation: str | None = REGULATION,
) -> None:
    """What does each connected system hold about this person? Looks them up by email and by user ID."""
    _submit(RequestType.ACCESS, email, user_id, wait, json_, verified, regulation)


@request_app.command("delete")
def delete(
    email: str | None = typer.Option(None, help="The subject's email."),
    user_id: str | None = typer.Option(
        None, help="The subject's user ID (the identity your systems know them by)."
    ),
    wait: bool = WAIT,
    json_: bool = JSON,
    verified: bool = VERIFIED,
    regulation: str | None = REGULATION,
) -> None:
    """Delete this person's whole record, and (by default) keep checking until it is gone."""
    _submit(RequestType.DELETION, email, user_id, wait, json_, verified, regulation)


@request_app.command("show")
def show_(request_id: str, json_: bool = JSON) -> None:
    """Show a request, its integrations and any records found."""
    run(lambda rt: show(rt, request_id, json_))


@request_app.command("list")
def list_(
    status: RequestStatus | None = typer.Option(None, help="Only requests with this status."),
    limit: int = typer.Option(50, min=1, max=1000),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List requests, newest first."""

    async def body(rt: Runtime) -> None:
        async with rt.db.session() as s:
            reqs, total = await svc.list_requests(s, status=status.value if status else None, limit=limit)
        views = [svc.request_view(r) for r in reqs]
        if json_:
            print_json(views)
        else:
            out.print(requests_table(views, total))

    run(body)


@request_app.command("cancel")
def cancel(request_id: str) -> None:
    """Cancel a request's unfinished integrations."""

    async def body(rt: Runtime) -> None:
        async with rt.db.session() as s:
            req = await svc.cancel(s, rt, Actor.cli(), request_id)
        out.print(f"{req.id}: {req.status}")

    run(body)


@request_app.command("retry")
def retry(request_id: str) -> None:
    """Run a request's failed or canceled integrations again."""

    async def body(rt: Runtime) -> None:
        async with rt.db.session() as s:
            req = await svc.retry(s, rt, Actor.cli(), request_id)
        out.print(f"{req.id}: {req.status}; run `rightly worker` (or use --wait next time) to process it")

    run(body)


REASON = typer.Option(..., "--reason", help="Why: the person is told it.")


@request_app.command("extend")
def extend(request_id: str, reason: str = REASON, json_: bool = JSON) -> None:
    """Extend a request's deadline once, as its regulation allows (GDPR: two more months; CCPA: 45 days)."""

    async def body(rt: Runtime) -> None:
        async with rt.db.session() as s:
            req = await deadlines.extend(s, rt, Actor.cli(), request_id, reason)
        view = svc.request_view(req)
        if json_:
            print_json(view)
        else:
            out.print(f"{req.id}: now due {view['due_at']}; the person will be told why")

    run(body)


@request_app.command("approve")
def approve(request_id: str) -> None:
    """Approve a request waiting for review (RIGHTLY_REVIEW_REQUESTS): it runs."""

    async def body(rt: Runtime) -> None:
        async with rt.db.session() as s:
            req = await review.approve(s, rt, Actor.cli(), request_id)
        out.print(f"{req.id}: approved; run `rightly worker` to process it")

    run(body)


@request_app.command("deny")
def deny(request_id: str, reason: str = REASON) -> None:
    """Deny a request waiting for review, with a reason the person is told."""

    async def body(rt: Runtime) -> None:
        async with rt.db.session() as s:
            req = await review.deny(s, rt, Actor.cli(), request_id, reason)
        out.print(f"{req.id}: denied; the person will be told why")

    run(body)
