"""``rightly secrets rotate`` and ``rightly secrets generate-key``."""

from __future__ import annotations

import typer

from rightly.cli.common import out, run
from rightly.services import secrets as svc
from rightly.services.audit import Actor
from rightly.services.runtime import Runtime
from rightly.store.secrets import generate_key

secrets_app = typer.Typer(
    help="The key that encrypts stored secrets (vendor passcodes).", no_args_is_help=True
)


@secrets_app.command("generate-key")
def generate() -> None:
    """Print a new key of the right form for RIGHTLY_SECRET_KEY (keep it as safe as the database)."""
    out.print(generate_key(), highlight=False)


@secrets_app.command("rotate")
def rotate() -> None:
    """Re-encrypt every stored secret under a new key.

    Key file ($RIGHTLY_HOME/secret.key): a new key file is made and every secret moved to it.
    RIGHTLY_SECRET_KEY: set the new key there and the old one in RIGHTLY_PREVIOUS_SECRET_KEY (on
    every process), run this, then remove RIGHTLY_PREVIOUS_SECRET_KEY."""

    async def body(rt: Runtime) -> None:
        key_file = not rt.settings.secret_key
        async with rt.db.session() as s:
            count = await svc.rotate(s, rt, Actor.cli())
        what = "1 secret" if count == 1 else f"{count} secrets"
        if key_file:
            out.print(f"re-encrypted {what} under a new key file ({rt.settings.home / 'secret.key'})")
        else:
            out.print(
                f"re-encrypted {what} under RIGHTLY_SECRET_KEY; RIGHTLY_PREVIOUS_SECRET_KEY is no longer needed"
            )

    run(body)
