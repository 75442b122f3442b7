"""What every CLI command shares: running a coroutine with the runtime, and saying what went wrong."""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy.exc import OperationalError

from rightly import loop
from rightly.connectors.base import Registry
from rightly.services.errors import ServiceError
from rightly.services.runtime import Runtime
from rightly.settings import Settings, describe_error
from rightly.store.db import DATABASE_BUSY, is_busy
from rightly.store.secrets import SecretError

T = TypeVar("T")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


@dataclass
class Wiring:
    """What the composition root hands the commands: how to open a runtime, build the web app,
    and which connectors there are (``rightly.app.cli`` sets it before any command runs)."""

    open_runtime: Callable[..., AbstractAsyncContextManager[Runtime]]
    create_app: Callable[..., Any]
    registry: Registry


_wiring: Wiring | None = None


def wire(wiring: Wiring) -> None:
    global _wiring
    _wiring = wiring


def wiring() -> Wiring:
    if _wiring is None:
        raise RuntimeError("the CLI runs through rightly.app.cli, which wires it")
    return _wiring


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", highlight=False, markup=True)
    raise typer.Exit(code)


def run(body: Callable[[Runtime], Awaitable[T]]) -> T:
    """Open the runtime, run ``body``, close everything; a ServiceError (or a database locked by
    another process) becomes one line and exit 1."""

    async def main() -> T:
        async with wiring().open_runtime(load_settings()) as rt:
            return await body(rt)

    try:
        return loop.run(main())
    except (ServiceError, SecretError) as exc:
        fail(str(exc))
    except OperationalError as exc:
        if not is_busy(exc):
            raise
        fail(DATABASE_BUSY)
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except OSError as exc:  # database file not writable, Redis or PostgreSQL unreachable, ...
        fail(f"{type(exc).__name__}: {exc}")


def load_settings() -> Settings:
    """The configuration from the environment; a bad value is one line naming the variable, and exit 1."""
    try:
        return Settings()
    except ValidationError as exc:
        fail(describe_error(exc))


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")
