"""Everything the emulator holds: accounts, what it saw, its clock, its sleep and its seed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from rightly.domain.clock import Clock, SystemClock
from rightly.emulator.accounts import Account, NotFoundShape
from rightly.emulator.limits import Limits
from rightly.emulator.stats import Stats

Sleep = Callable[[float], Awaitable[None]]


async def real_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


class EmulatorState:
    """The emulator's world.

    ``clock`` drives passcode expiry, the deletion batch and the rate window: a ``FakeClock``
    runs CleverTap's 48-hour deletion window in milliseconds. ``sleep`` is the simulated network
    time of latency and hang faults; it is real ``asyncio.sleep`` unless a test injects another.
    ``seed`` makes generated objectIds, batch times and faults reproducible.
    """

    def __init__(self, clock: Clock | None = None, seed: int = 0, sleep: Sleep | None = None) -> None:
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.seed = seed
        self.sleep: Sleep = sleep if sleep is not None else real_sleep
        self.accounts: dict[str, Account] = {}
        self.stats = Stats()
        self.limits = Limits(self.stats)

    def add_account(
        self,
        project_id: str,
        passcode: str,
        region: str,
        *,
        max_in_flight: int = 3,
        rate: float | None = None,
        not_found_shape: NotFoundShape = "null",
        deletion_delay: float | None = None,
        timezone: str = "UTC",
    ) -> Account:
        if project_id in self.accounts:
            raise ValueError(f"account {project_id!r} already exists")
        account = Account(
            project_id,
            passcode,
            region,
            clock=self.clock,
            seed=self.seed,
            max_in_flight=max_in_flight,
            rate=rate,
            not_found_shape=not_found_shape,
            deletion_delay=deletion_delay,
            timezone=timezone,
        )
        self.accounts[project_id] = account
        return account

    def account(self, project_id: str) -> Account:
        """The account with that Project ID; KeyError if there is none."""
        try:
            return self.accounts[project_id]
        except KeyError:
            raise KeyError(f"no emulated account {project_id!r}") from None

    def run_due_deletions(self) -> int:
        """Run every deletion batch that is due now; requests and lookups also do it lazily."""
        return sum(account.run_due_deletions() for account in self.accounts.values())
