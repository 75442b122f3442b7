"""``rightly emulator``: serve the CleverTap emulator on a port until interrupted.

    rightly emulator --port 8765 --account PROJECT_ID:PASSCODE:REGION [--account ...]
        [--host 127.0.0.1] [--max-in-flight 3] [--rate R] [--latency-ms N|LOW-HIGH]
        [--deletion-delay SECONDS] [--timezone UTC] [--not-found-shape null|fail] [--seed FILE]
        [--error-rate F] [--hang-rate F] [--hang-seconds S] [--malformed-rate F]
        [--fail200-rate F] [--drop-rate F] [--liar-rate F] [--random-seed N]

Every region is served under its path prefix (``http://HOST:PORT/us1`` is us1's base URL).
The server runs on real time; ``--deletion-delay`` replaces the nightly deletion batch with a fixed
delay. Options that shape limits and faults apply to every account. Bad options print one line
and exit non-zero.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from typer.exceptions import TyperException

from rightly.connectors.clevertap.regions import REGIONS
from rightly.emulator.app import STATS_PATH, create_emulator_app
from rightly.emulator.faults import Faults
from rightly.emulator.seed import SeedError, load_seed_file
from rightly.emulator.server import base_url, bind, make_server
from rightly.emulator.state import EmulatorState

PROG = "rightly emulator"


class NotFoundShapeOption(StrEnum):
    null = "null"
    fail = "fail"


@dataclass
class AccountSpec:
    project_id: str
    passcode: str
    region: str


@dataclass
class Options:
    accounts: list[AccountSpec]
    host: str = "127.0.0.1"
    port: int = 8765
    max_in_flight: int = 3
    rate: float | None = None
    deletion_delay: float | None = None
    timezone: str = "UTC"
    not_found_shape: str = "null"
    seed: Path | None = None
    random_seed: int = 0
    faults: Faults = field(default_factory=Faults)


def parse_account(value: str) -> AccountSpec:
    """``PROJECT_ID:PASSCODE:REGION``; a passcode may itself contain colons."""
    parts = value.split(":")
    if len(parts) < 3 or not parts[0] or not parts[-1] or not all(parts[1:-1]):
        raise typer.BadParameter(f"{value!r} is not PROJECT_ID:PASSCODE:REGION", param_hint="'--account'")
    code = parts[-1].strip().lower()
    if code not in REGIONS:
        raise typer.BadParameter(
            f"unknown region {parts[-1]!r} in {value!r}; valid regions: {', '.join(REGIONS)}",
            param_hint="'--account'",
        )
    return AccountSpec(parts[0], ":".join(parts[1:-1]), code)


def parse_latency(value: str | None) -> tuple[float, float]:
    """``N`` (fixed) or ``LOW-HIGH`` (uniform), in milliseconds."""
    if value is None:
        return (0.0, 0.0)
    low, sep, high = value.partition("-")
    try:
        bounds = (float(low), float(high)) if sep else (float(low), float(low))
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not N or LOW-HIGH", param_hint="'--latency-ms'") from None
    if bounds[0] < 0 or bounds[1] < bounds[0]:
        raise typer.BadParameter(f"{value!r} needs 0 <= LOW <= HIGH", param_hint="'--latency-ms'")
    return bounds


Rate = Annotated[float, typer.Option(min=0.0, max=1.0)]

_app = typer.Typer(add_completion=False, help="Serve a CleverTap REST API emulator for tests and the demo.")


@_app.command()
def _command(
    account: Annotated[
        list[str], typer.Option("--account", help="PROJECT_ID:PASSCODE:REGION (repeatable)")
    ] = [],  # noqa: B006 - Typer reads the default, never mutates it
    host: str = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535)] = 8765,
    max_in_flight: Annotated[int, typer.Option(min=1, help="concurrent requests per account and API")] = 3,
    rate: Annotated[float | None, typer.Option(min=0.001, help="requests per second per account")] = None,
    latency_ms: Annotated[str | None, typer.Option(help="N or LOW-HIGH milliseconds")] = None,
    deletion_delay: Annotated[
        float | None, typer.Option(min=0.0, help="seconds until a deletion shows (default: nightly batch)")
    ] = None,
    timezone: Annotated[str, typer.Option(help="accounts' time zone for the nightly batch")] = "UTC",
    not_found_shape: NotFoundShapeOption = NotFoundShapeOption.null,
    seed: Annotated[Path | None, typer.Option(help="JSON file of profiles to load")] = None,
    error_rate: Rate = 0.0,
    hang_rate: Rate = 0.0,
    hang_seconds: Annotated[float, typer.Option(min=0.0)] = 30.0,
    malformed_rate: Rate = 0.0,
    fail200_rate: Rate = 0.0,
    drop_rate: Rate = 0.0,
    liar_rate: Rate = 0.0,
    random_seed: int = 0,
) -> Options:
    if not account:
        raise typer.BadParameter("give at least one PROJECT_ID:PASSCODE:REGION", param_hint="'--account'")
    faults = Faults(
        latency_ms=parse_latency(latency_ms),
        error_5xx_rate=error_rate,
        hang_rate=hang_rate,
        hang_seconds=hang_seconds,
        malformed_rate=malformed_rate,
        fail200_rate=fail200_rate,
        drop_rate=drop_rate,
        liar_rate=liar_rate,
    )
    return Options(
        accounts=[parse_account(value) for value in account],
        host=host,
        port=port,
        max_in_flight=max_in_flight,
        rate=rate,
        deletion_delay=deletion_delay,
        timezone=timezone,
        not_found_shape=not_found_shape.value,
        seed=seed,
        random_seed=random_seed,
        faults=faults,
    )


def parse_options(argv: list[str]) -> Options | None:
    """The options, or None when ``--help`` was shown. Raises TyperException on bad input."""
    result = _app(argv, standalone_mode=False, prog_name=PROG)
    return result if isinstance(result, Options) else None


def build_state(options: Options) -> EmulatorState:
    """The emulator's state for ``options``; typer.BadParameter on an unusable value."""
    state = EmulatorState(seed=options.random_seed)
    for spec in options.accounts:
        try:
            acct = state.add_account(
                spec.project_id,
                spec.passcode,
                spec.region,
                max_in_flight=options.max_in_flight,
                rate=options.rate,
                not_found_shape="fail" if options.not_found_shape == "fail" else "null",
                deletion_delay=options.deletion_delay,
                timezone=options.timezone,
            )
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="'--account'") from None
        acct.faults = Faults(**vars(options.faults))
    if options.seed is not None:
        try:
            load_seed_file(state, options.seed)
        except SeedError as exc:
            raise typer.BadParameter(str(exc), param_hint="'--seed'") from None
    return state


def main(argv: list[str]) -> int:
    """Parse ``argv``, then serve until interrupted; returns the exit code."""
    try:
        options = parse_options(argv)
        if options is None:
            return 0
        state = build_state(options)
    except TyperException as exc:
        print(f"{PROG}: error: {exc.format_message()}", file=sys.stderr)
        return exc.exit_code
    try:
        sock = bind(options.host, options.port)
    except OSError as exc:
        print(
            f"{PROG}: error: cannot listen on {options.host}:{options.port}: {exc.strerror}", file=sys.stderr
        )
        return 1
    root = base_url(sock)
    print(f"CleverTap emulator on {root} (every region under its prefix: /{', /'.join(REGIONS)})")
    for acct in state.accounts.values():
        print(f"  {acct.project_id} ({acct.region}): {root}/{acct.region}  [{acct.profile_count()} profiles]")
    print(f"  what it saw: {root}{STATS_PATH}", flush=True)
    with sock:
        make_server(create_emulator_app(state)).run(sockets=[sock])
    return 0
