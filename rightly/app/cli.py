"""The ``rightly`` command: the CLI's commands, wired to this process's runtime and app factories."""

from __future__ import annotations

from rightly.app.runtime import open_runtime
from rightly.app.web import create_app
from rightly.cli.common import Wiring, wire
from rightly.cli.main import app
from rightly.connectors.builtin import builtin_registry


def main() -> None:
    wire(Wiring(open_runtime=open_runtime, create_app=create_app, registry=builtin_registry()))
    app(prog_name="rightly")
