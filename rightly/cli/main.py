"""The ``rightly`` command line: thin commands over the services (wired by ``rightly.app.cli``)."""

from __future__ import annotations

import asyncio
import logging
import signal

import typer

from rightly.cli.common import out, run
from rightly.cli.connections import connect, connections_app
from rightly.cli.outbox import outbox_app
from rightly.cli.proofs import audit_app, proof_app
from rightly.cli.requests import request_app
from rightly.cli.secrets import secrets_app
from rightly.cli.users import serve, token_app, user_app
from rightly.cli.webhooks import report_app, retention_app, webhook_app
from rightly.services.runtime import Runtime

app = typer.Typer(
    help="Rightly: a self-hostable privacy request manager (access and deletion requests, CleverTap first).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command(
    "connect",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
)(connect)
app.add_typer(connections_app, name="connections")
app.add_typer(request_app, name="request")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(outbox_app, name="outbox")
app.add_typer(proof_app, name="proof")
app.add_typer(audit_app, name="audit")
app.add_typer(webhook_app, name="webhook")
app.add_typer(report_app, name="report")
app.add_typer(retention_app, name="retention")
app.add_typer(secrets_app, name="secrets")
app.command("serve")(serve)


@app.command()
def worker(
    until_done: bool = typer.Option(False, help="Stop once no unfinished task remains."),
    verbose: bool = typer.Option(False, "-v", help="Log each step."),
) -> None:
    """Process due tasks until stopped (Ctrl-C). Run as many as you like against PostgreSQL."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(asctime)s %(levelname)s %(message)s"
    )

    async def body(rt: Runtime) -> None:
        w = rt.worker()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        out.print(f"worker {w.owner} started" + (" (until done)" if until_done else "; Ctrl-C stops it"))
        await w.run(stop, until_done=until_done)
        steps = "1 task step" if w.stats.tasks == 1 else f"{w.stats.tasks} task steps"
        out.print(f"worker {w.owner} stopped after {steps}")

    run(body)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}
)
def emulator(ctx: typer.Context) -> None:
    """Run the CleverTap emulator as a server (rightly emulator --help for its options)."""
    from rightly.emulator.cli import main as emulator_main  # test/demo tool: loaded only when asked for

    raise typer.Exit(emulator_main(list(ctx.args)))


@app.command()
def demo() -> None:
    """Connect the built-in CleverTap emulator and run an access and a deletion request end to end."""
    from rightly.cli.demo import run_demo  # loads the emulator: only for the demo

    raise typer.Exit(run_demo())
