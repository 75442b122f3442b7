"""When to look a deleted subject up again (pure; clevertap-api.md §7).

CleverTap marks a profile at once and removes it in a nightly batch (02:00-04:00 account time,
within 48 hours). Defaults: first check an hour after submission, backing off to every 6 hours;
overdue after 72 hours; resubmitted once if still present after 50 hours; error after 30 days.
``scaled(interval)`` shrinks the whole schedule so its first check comes after ``interval`` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

HOUR = 3600.0


@dataclass(frozen=True)
class VerifySchedule:
    first_check: float = 1 * HOUR
    max_interval: float = 6 * HOUR
    overdue_after: float = 72 * HOUR
    resubmit_after: float = 50 * HOUR
    give_up_after: float = 30 * 24 * HOUR
    max_submissions: int = 2

    @classmethod
    def scaled(cls, first_check: float | None) -> VerifySchedule:
        base = cls()
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
        )

    def delay_after(self, checks_done: int) -> float:
        """Seconds to wait before check number ``checks_done + 1`` (the first after submission)."""
        return min(self.max_interval, self.first_check * (2 ** max(0, checks_done)))

    def should_resubmit(self, age: float, submissions: int) -> bool:
        return age >= self.resubmit_after and submissions < self.max_submissions

    def is_overdue(self, age: float) -> bool:
        return age >= self.overdue_after

    def gave_up(self, age: float) -> bool:
        return age >= self.give_up_after
