"""``rightly user ...``, ``rightly token ...`` and ``rightly serve``."""

from __future__ import annotations

import sys

import typer

from rightly import loop
from rightly.cli.common import fail, out, print_json, run, wiring
from rightly.domain.clock import iso
from rightly.domain.roles import Role
from rightly.services import tokens, users
from rightly.services.audit import Actor
from rightly.services.runtime import Runtime

user_app = typer.Typer(help="Manage the people who may use the API and the web UI.", no_args_is_help=True)
token_app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)

ROLE_HELP = "One of: " + ", ".join(Role)


def _read_password(from_stdin: bool) -> str | None:
    if from_stdin:
        value = sys.stdin.readline().rstrip("\n")
        if not value:
            fail("--password-stdin was given but standard input held no password")
        return value
    return None


@user_app.command("add")
def add(
    email: str = typer.Option(..., help="The user's email (their sign-in name)."),
    role: str = typer.Option(..., help=ROLE_HELP),
    password_stdin: bool = typer.Option(
        False,
        help="Read a password (12+ characters) from standard input; without one, the user uses tokens only.",
    ),
) -> None:
    """Add a user (the first one should be a super_admin)."""
    password = _read_password(password_stdin)

    async def body(rt: Runtime) -> None:
        async with rt.db.session() as s:
            user = await users.add_user(s, rt.clock, Actor.cli(), email, role, password)
        out.print(
            f"added {user.email} as {user.role}" + ("" if password else " (API tokens only: no password)")
        )

    run(body)


@user_app.command("list")
def list_(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List users and their roles."""

    async def body(rt: Runtime) -> None:
        async with rt.db.session() as s:
            views = [users.user_view(u) for u in await users.list_users(s)]
        if json_:
            print_json(views)
        elif not views:
            out.print(
                "no users yet: rightly user add --email you@example.com --role super_admin --password-stdin"
            )
        else:
            for v in views:
                state = " (disabled)" if v["disabled"] else ""
                out.print(f"{v['email']}  {v['role']}{state}", highlight=False)

    run(body)


@user_app.command("set-role")
def set_role(
    email: str = typer.Argument(..., help="The user's email."),
    role: str = typer.Argument(..., help=ROLE_HELP),
) -> None:
    """Change a user's role."""

    async def body(rt: Runtime) -> None:
        async with rt.db.session() as s:
            user = await users.set_role(s, rt.clock, Actor.cli(), email, role)
        out.print(f"{user.email} is now {user.role}")

    run(body)


@user_app.command("disable")
def disable(email: str = typer.Argument(..., help="The user's email.")) -> None:
    """Disable a user: they can no longer sign in, and their sessions and tokens stop working."""

    async def body(rt: Runtime) -> None:
        async with rt.db.session() as s:
            user = await users.set_disabled(s, rt.clock, Actor.cli(), email, True)
        out.print(f"disabled {user.email}; their sessions and tokens are revoked")

    run(body)


@token_app.command("create")
def create(
    user: str = typer.Option(..., help="The user's email: the token acts with their role."),
    name: str | None = typer.Option(None, help="What the token is for, e.g. 'intake form'."),
    expires_in_days: int | None = typer.Option(
        None, min=1, max=3650, help="The token stops working this many days from now (default: never)."
    ),
) -> None:
    """Create an API token. It is printed once; store it now."""

    async def body(rt: Runtime) -> None:
        async with rt.db.session() as s:
            cred, secret = await tokens.create_token(s, rt.clock, Actor.cli(), user, name, expires_in_days)
        until = f", valid until {iso(cred.expires_at)}" if cred.expires_at else ""
        sys.stderr.write(f"token {cred.id} for {user}{until}; shown once, store it now:\n")
        sys.stdout.write(secret + "\n")

    run(body)


@token_app.command("list")
def token_list(
    user: str | None = typer.Option(None, help="Only this user's tokens."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List API tokens (never their secrets)."""

    async def body(rt: Runtime) -> None:
        async with rt.db.session() as s:
            views = [tokens.token_view(c, rt.clock.now()) for c in await tokens.list_tokens(s, user)]
        if json_:
            print_json(views)
            return
        for v in views:
            state = f"revoked {v['revoked_at']}" if v["revoked_at"] else "active"
            if not v["revoked_at"] and v["expires_at"]:
                state = f"expired {v['expires_at']}" if v["expired"] else f"active until {v['expires_at']}"
            out.print(f"{v['id']}  {v['user']}  {v['name']}  {state}", highlight=False)

    run(body)


@token_app.command("revoke")
def revoke(token_id: str = typer.Argument(..., help="The token's id (from `rightly token list`).")) -> None:
    """Revoke an API token at once."""

    async def body(rt: Runtime) -> None:
        async with rt.db.session() as s:
            cred = await tokens.revoke_token(s, rt.clock, Actor.cli(), token_id)
        out.print(f"revoked {cred.id} ({cred.name}, {cred.user.email})")

    run(body)


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    no_worker: bool = typer.Option(False, "--no-worker", help="Do not run a worker in this process."),
) -> None:
    """Run the REST API (and web UI) with an in-process worker; docs at /docs, schema at /openapi.json."""
    import uvicorn

    from rightly.cli.access_log import log_config
    from rightly.cli.common import load_settings

    app = wiring().create_app(load_settings(), registry=wiring().registry, start_worker=not no_worker)
    loop.tune_gc()
    uvicorn.run(
        app,
        host=host,
        port=port,
        proxy_headers=True,
        server_header=False,
        log_level="info",
        log_config=log_config(),  # no query strings (personal data) in the access log
    )
