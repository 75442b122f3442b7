"""Regulations and their deadlines. Pure: no I/O, no clock of its own.

A request falls under one regulation, which sets when it is due after receipt (for a request made
through the privacy center, receipt is when the person proved they own the email) and the one
extension it may get:

- **GDPR** (Art. 12(3)): one month from receipt, extendable once by two further months. A month is
  a calendar month: the same day of the next month, or that month's last day when it has no such
  day (received 31 January: due 28 or 29 February). The extension counts three months from
  receipt, not two from the first deadline (31 January: 30 April, not 28 April).
- **CCPA** (Cal. Civ. Code 1798.130(a)(2)): 45 calendar days, extendable once by 45 more.
- **other**: a request under no particular law, with the deadline and extension the operator
  configures (RIGHTLY_OTHER_DEADLINE_DAYS, RIGHTLY_OTHER_EXTENSION_DAYS; 30 each by default).

Deadlines keep the time of day of the receipt (UTC): the conservative reading, never a day late.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum


class Regulation(StrEnum):
    GDPR = "gdpr"
    CCPA = "ccpa"
    OTHER = "other"


LABELS = {
    Regulation.GDPR: "GDPR",
    Regulation.CCPA: "CCPA",
    Regulation.OTHER: "no specific law",
}


class Location(StrEnum):
    """Where the person says they live, as the privacy center asks it."""

    EU = "eu"  # the EU, the EEA or the UK
    CALIFORNIA = "california"
    ELSEWHERE = "elsewhere"


LOCATION_LABELS = {
    Location.EU: "The EU, the EEA or the UK",
    Location.CALIFORNIA: "California",
    Location.ELSEWHERE: "Elsewhere",
}


@dataclass(frozen=True)
class Rules:
    """The deadlines in force: ``default`` applies to a person living elsewhere and to a staff-made
    request that names no regulation; ``other_*`` are the days of the ``other`` regulation."""

    default: Regulation = Regulation.GDPR
    other_days: int = 30
    other_extension_days: int = 30

    def for_location(self, location: Location | str) -> Regulation:
        loc = Location(location)
        if loc is Location.EU:
            return Regulation.GDPR
        if loc is Location.CALIFORNIA:
            return Regulation.CCPA
        return self.default

    def due(self, regulation: Regulation | str, received_at: float) -> float:
        """When a request received at ``received_at`` (epoch seconds) must be answered."""
        reg = Regulation(regulation)
        if reg is Regulation.GDPR:
            return add_months(received_at, 1)
        if reg is Regulation.CCPA:
            return received_at + 45 * 86400
        return received_at + self.other_days * 86400

    def extended(self, regulation: Regulation | str, received_at: float) -> float:
        """The deadline after the one extension the regulation allows."""
        reg = Regulation(regulation)
        if reg is Regulation.GDPR:
            return add_months(received_at, 3)
        if reg is Regulation.CCPA:
            return received_at + 90 * 86400
        return received_at + (self.other_days + self.other_extension_days) * 86400

    def extension_words(self, regulation: Regulation | str) -> str:
        reg = Regulation(regulation)
        if reg is Regulation.GDPR:
            return "two further months"
        if reg is Regulation.CCPA:
            return "45 more days"
        return f"{self.other_extension_days} more days"


def add_months(ts: float, months: int) -> float:
    """``ts`` plus whole calendar months, clamped to the last day of a shorter month."""
    when = datetime.fromtimestamp(ts, UTC)
    index = when.month - 1 + months
    year, month = when.year + index // 12, index % 12 + 1
    day = min(when.day, calendar.monthrange(year, month)[1])
    return when.replace(year=year, month=month, day=day).timestamp()
