"""``rightly demo``: the whole job on the embedded default, against the built-in CleverTap emulator.

It seeds the emulator the way an app would (``POST /1/upload``), connects it (the same checks a real
project gets), runs an access request and a deletion request, and shows the evidence. The
emulator's deletion batch is compressed to a few seconds so verification finishes while you watch.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from sqlalchemy import select

from rightly import loop
from rightly.cli.common import wiring
from rightly.cli.render import records_table, request_table
from rightly.domain.enums import TERMINAL_REQUEST
from rightly.emulator import EmulatorState, create_emulator_app
from rightly.services import connections as conns
from rightly.services import messages
from rightly.services import requests as reqs
from rightly.services.audit import Actor
from rightly.services.runtime import Runtime
from rightly.settings import Settings
from rightly.store.models import Evidence, Task

PROJECT, PASSCODE, REGION = "DEMO-PROJECT-1", "demo-passcode-not-real", "us1"
PROFILES = [
    {
        "identity": "user-1001",
        "type": "profile",
        "profileData": {"Email": "ada@example.com", "Name": "Ada Lovelace", "Plan": "gold", "City": "London"},
    },
    {
        "identity": "user-1002",
        "type": "profile",
        "profileData": {"Email": "grace@example.com", "Name": "Grace Hopper"},
    },
    {"identity": "user-1001", "type": "event", "evtName": "App Launched", "evtData": {}, "ts": 1_764_000_000},
    {
        "identity": "user-1001",
        "type": "event",
        "evtName": "Charged",
        "evtData": {"Amount": 42},
        "ts": 1_764_100_000,
    },
    {"identity": "user-1002", "type": "event", "evtName": "App Launched", "evtData": {}, "ts": 1_764_200_000},
]


def run_demo(console: Console | None = None) -> int:
    """Run the demo in ``$RIGHTLY_HOME`` when it is set (``make demo`` sets it to ``.rightly-demo``;
    a rerun reuses its connection), else in a temporary folder removed afterwards. Always the
    embedded SQLite: the demo never writes into a configured PostgreSQL."""
    console = console or Console()
    chosen = os.environ.get("RIGHTLY_HOME")
    with contextlib.ExitStack() as stack:
        home = (
            Path(chosen)
            if chosen
            else Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rightly-demo-")))
        )
        settings = Settings(
            home=home,
            database_url=None,
            redis_url=None,
            deletion_batch_window=0.2,
            smtp_url=None,  # the outbox stands in for a mail server
            privacy_per_address=10_000,  # a demo reruns often from one address
            privacy_per_email=10_000,
        )
        return loop.run(_demo(console, settings, throwaway=not chosen))


async def _demo(console: Console, settings: Settings, throwaway: bool) -> int:
    state = EmulatorState(seed=7)
    state.add_account(PROJECT, PASSCODE, REGION, deletion_delay=4.0)
    transport = httpx.ASGITransport(app=create_emulator_app(state))
    opener = wiring().open_runtime
    async with httpx.AsyncClient(transport=transport) as http, opener(settings, http=http) as rt:
        console.rule("[bold]Rightly demo[/bold] — embedded SQLite, built-in CleverTap emulator")
        where = "a temporary folder, removed afterwards" if throwaway else "RIGHTLY_HOME"
        console.print(f"data in {settings.home} ({where})")
        seeded = await http.post(
            f"https://{REGION}.api.clevertap.com/1/upload",
            json={"d": PROFILES},
            headers={"X-CleverTap-Account-Id": PROJECT, "X-CleverTap-Passcode": PASSCODE},
        )
        console.print(f"seeded the emulator through /1/upload: {seeded.json().get('processed')} records")

        console.rule("1. connect CleverTap (Project ID, Passcode, Region)")
        actor = Actor.cli()
        async with rt.db.session() as s:
            for old in await conns.list_connections(s):  # a rerun: connect afresh to this run's emulator
                await conns.remove_connection(s, rt, actor, old.id)
            conn, validation = await conns.connect(
                s,
                rt,
                actor,
                conns.ConnectionInput.model_validate(
                    {
                        "name": "clevertap-demo",
                        "project_id": PROJECT,
                        "passcode": PASSCODE,
                        "region": REGION,
                        "verify_interval": 1.0,
                    }
                ),
            )
        for check in validation.checks:
            console.print(f"[green]✓[/green] {check.name}: {check.detail}")
        behavior = conn.settings["deletion_behavior"]
        console.print(f"deletion behaviour: {behavior} (stays processing until lookups prove it gone)")

        worker = rt.worker()
        stop = asyncio.Event()
        job = asyncio.create_task(worker.run(stop))
        try:
            console.rule("2. access request: what does CleverTap hold about ada@example.com?")
            access = await _follow(console, rt, "access", "ada@example.com", "user-1001")
            if (table := records_table(access)) is not None:
                console.print(table)

            console.rule("3. deletion request: delete grace@example.com, and prove it")
            deletion = await _follow(console, rt, "deletion", "grace@example.com", None)
            await _evidence(console, rt, deletion["id"])

            console.rule("4. the privacy center: Ada asks for her data herself, at /privacy")
            public = await public_flow(console, rt, settings)
        finally:
            stop.set()
            await job

        ok = access["status"] == "complete" and deletion["status"] == "complete" and public
        console.rule("summary")
        console.print(
            f"access: {access['status']} ({access['integrations'][0]['detail']}); "
            f"deletion: {deletion['status']} ({deletion['integrations'][0]['detail']}); "
            f"privacy center: {'answered by email' if public else 'not finished'}; "
            f"CleverTap calls: {sum(state.stats.calls.values())}, 429s: {sum(state.stats.throttled.values())}"
        )
        console.print("[green]demo finished[/green]" if ok else "[red]demo did not finish as expected[/red]")
        return 0 if ok else 1


async def _follow(
    console: Console, rt: Runtime, kind: str, email: str, user_id: str | None
) -> dict[str, Any]:
    async with rt.db.session() as s:
        req, _ = await reqs.submit(s, rt, Actor.cli(), kind, email, user_id)
    started = time.monotonic()
    with Live(console=console, refresh_per_second=8) as live:
        while True:
            async with rt.db.session() as s:
                view = reqs.request_view(await reqs.get_request(s, req.id))
            table = request_table(view)
            table.caption = f"{table.caption} · {time.monotonic() - started:.1f} s"
            live.update(table)
            if view["status"] in TERMINAL_REQUEST or time.monotonic() - started > 60:
                return view
            await asyncio.sleep(0.25)


async def _evidence(console: Console, rt: Runtime, request_id: str) -> None:
    async with rt.db.session() as s:
        rows = await s.execute(
            select(Evidence)
            .join(Task, Task.id == Evidence.task_id)
            .where(Task.request_id == request_id)
            .order_by(Evidence.id)
        )
        evidence = list(rows.scalars())
    table = Table(title="evidence (what was asked of CleverTap, and what it answered)", title_justify="left")
    for col in ("when", "call", "HTTP", "outcome"):
        table.add_column(col)
    for ev in evidence:
        when = time.strftime("%H:%M:%S", time.gmtime(ev.at))
        call = f"{ev.method} {ev.endpoint}" if ev.endpoint else ev.kind
        table.add_row(when, call, str(ev.status_code or ""), ev.outcome)
    console.print(table)


async def public_flow(console: Console, rt: Runtime, settings: Settings) -> bool:
    """The person's side, through the real pages (served in-process): the form, the verification
    message read from the outbox (no mail server is configured), the link, the results message and
    the JSON download. True when Ada got her data."""

    @contextlib.asynccontextmanager
    async def this_runtime(_: Settings) -> AsyncIterator[Runtime]:
        yield rt

    app = wiring().create_app(settings, runtime_factory=this_runtime, start_worker=False)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=settings.public_url) as web,
    ):
        since = rt.clock.now()
        form = {"type": "access", "location": "eu", "email": "ada@example.com"}
        answer = await web.post("/privacy", data=form)
        console.print(
            f"POST /privacy (access, lives in the EU, ada@example.com) → {answer.status_code}: check your email"
        )
        verify = await _outbox(console, rt, "verify", since)
        if verify is None:
            return False
        link = re.search(r"/privacy/verify/[A-Za-z0-9_-]+", verify.text)
        if link is None:
            return False
        page = await web.get(link.group(0))
        console.print(
            f"GET the link → {page.status_code}: a page with a [bold]Confirm my request[/bold] button"
        )
        token = link.group(0).rsplit("/", 1)[1]
        confirmed = await web.post("/privacy/verify", data={"token": token})
        console.print(
            f"POST /privacy/verify → {confirmed.status_code}: request confirmed; the GDPR clock starts"
        )
        results = await _outbox(console, rt, "results", since)
        if results is None:
            return False
        found = re.search(r"/privacy/results/[A-Za-z0-9_-]+", results.text)
        if found is None:
            return False
        data = (await web.get(found.group(0) + "/data.json")).json()
        names = [r["record"].get("profileData", {}).get("Name") for r in data["records"]]
        console.print(
            f"GET the results link's JSON → {len(data['records'])} record(s): {', '.join(map(str, names))}"
        )
        again = await web.get(link.group(0))
        console.print(f"GET the verification link again → {again.status_code}: already used")
        return "Ada Lovelace" in names


async def _outbox(console: Console, rt: Runtime, kind: str, since: float) -> messages.Body | None:
    """Wait for the newest message of ``kind`` kept in the outbox, and show it as its reader would."""
    started = time.monotonic()
    while time.monotonic() - started < 60:
        async with rt.db.session() as s:
            found, _ = await messages.list_messages(s, limit=20)
        ready = [m for m in found if m.kind == kind and m.status == messages.KEPT and m.created_at >= since]
        if ready:
            async with rt.db.session() as s:
                message, body = await messages.read_message(s, rt, Actor.cli(), ready[0].id)
            console.print(
                Panel(
                    body.text.strip(),
                    title=f"outbox (no mail server configured): to {message.recipient} — {body.subject}",
                    title_align="left",
                )
            )
            return body
        await asyncio.sleep(0.2)
    console.print(f"[red]no {kind} message reached the outbox[/red]")
    return None
