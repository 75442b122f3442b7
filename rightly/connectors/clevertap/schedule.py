"""When to look a deleted subject up again (pure; clevertap-api.md §7).

CleverTap marks a profile at once and removes it in a nightly batch (02:00-04:00 account time,
within 48 hours). Defaults: first check no sooner than an hour after submission, backing off to
every 6 hours; overdue after 72 hours; resubmitted once if still present after 50 hours; error
after 30 days. ``scaled(interval)`` shrinks the whole schedule so its first check comes after
``interval`` seconds.

Aimed checks (the default schedule): a lookup between two nightly batches cannot find anything
new, so instead of checking every hour the first two checks aim just after the end of the next
batch window (``batch_window`` seconds after local midnight in the project's ``timezone``, plus
``batch_margin``), never sooner
than ``first_check`` after submission. A profile still present after two aimed checks means the
batch did not run when expected (another time zone, a late batch), and checks fall back to the
1 h → 6 h backoff, never later than the next window. Checks aimed at one window are spread over
``spread`` seconds in submission order, so a day's deletions are verified oldest first without a
burst. ``scaled()`` schedules (compressed time) keep the plain backoff.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

HOUR = 3600.0
DAY = 24 * HOUR


@dataclass(frozen=True)
class VerifySchedule:
    first_check: float = 1 * HOUR
    max_interval: float = 6 * HOUR
    overdue_after: float = 72 * HOUR
    resubmit_after: float = 50 * HOUR
    give_up_after: float = 30 * 24 * HOUR
    max_submissions: int = 2
    # CleverTap's deletion batch, in seconds after local midnight in ``timezone`` (the project's
    # time zone, UTC unless the connection says otherwise); None: plain backoff only.
    batch_window: tuple[float, float] | None = (2 * HOUR, 4 * HOUR)
    timezone: str = "UTC"
    batch_margin: float = 15 * 60.0
    spread: float = 30 * 60.0
    aimed_checks: int = 2

    @classmethod
    def scaled(cls, first_check: float | None, timezone: str = "UTC") -> VerifySchedule:
        base = cls(timezone=timezone)
        if first_check is None or first_check <= 0:
            return base
        f = first_check / base.first_check
        return replace(
            base,
            first_check=first_check,
            max_interval=base.max_interval * f,
            overdue_after=base.overdue_after * f,
            resubmit_after=base.resubmit_after * f,
            give_up_after=base.give_up_after * f,
            batch_window=None,
        )

    def delay_after(self, checks_done: int) -> float:
        """The plain backoff: seconds before check number ``checks_done + 1`` (1 h, 2 h, 4 h, 6 h, 6 h...)."""
        return min(self.max_interval, self.first_check * (2 ** max(0, checks_done)))

    def next_check(self, now: float, checks_done: int, submitted_at: float) -> float:
        """When to run check number ``checks_done + 1`` (epoch seconds); ``submitted_at`` orders the spread."""
        backoff = now + self.delay_after(checks_done)
        if self.batch_window is None:
            return backoff
        aimed = self._after_next_window(now, now + self.first_check if checks_done == 0 else now)
        aimed += self.spread * ((submitted_at % DAY) / DAY)
        return aimed if checks_done < self.aimed_checks else min(aimed, backoff)

    def _after_next_window(self, now: float, earliest: float) -> float:
        """Just after the end of the first batch window that ends after ``now``, and not before ``earliest``."""
        assert self.batch_window is not None
        end = timedelta(seconds=self.batch_window[1] + self.batch_margin)
        midnight = datetime.fromtimestamp(now, ZoneInfo(self.timezone)).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        # Aware datetimes add in local wall-clock time, so the window keeps its local hours across DST.
        target = (midnight + end).timestamp()
        if target <= now:
            target = (midnight + timedelta(days=1) + end).timestamp()
        return max(target, earliest)

    def should_resubmit(self, age: float, submissions: int) -> bool:
        return age >= self.resubmit_after and submissions < self.max_submissions

    def is_overdue(self, age: float) -> bool:
        return age >= self.overdue_after

    def gave_up(self, age: float) -> bool:
        return age >= self.give_up_after
