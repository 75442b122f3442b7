"""Deadlines by regulation: GDPR's calendar month (month ends included) extendable once by two more
months, CCPA's 45 days extendable once by 45, and the configurable default."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rightly.domain.regulations import Location, Regulation, Rules, add_months


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def day(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M")


@pytest.mark.parametrize(
    ("received", "due", "extended"),
    [
        ("2026-01-15T09:30", "2026-02-15T09:30", "2026-04-15T09:30"),
        (
            "2026-01-31T10:00",
            "2026-02-28T10:00",
            "2026-04-30T10:00",
        ),  # no 31 February; extension from receipt
        ("2024-01-31T10:00", "2024-02-29T10:00", "2024-04-30T10:00"),  # a leap year
        ("2026-03-31T23:59", "2026-04-30T23:59", "2026-06-30T23:59"),
        ("2026-08-31T00:00", "2026-09-30T00:00", "2026-11-30T00:00"),
        ("2026-11-30T12:00", "2026-12-30T12:00", "2027-02-28T12:00"),
        ("2025-12-31T08:00", "2026-01-31T08:00", "2026-03-31T08:00"),  # across a year
        ("2026-02-28T08:00", "2026-03-28T08:00", "2026-05-28T08:00"),  # not moved to March's end
    ],
)
def test_gdpr_one_calendar_month_then_three_from_receipt(received: str, due: str, extended: str) -> None:
    rules = Rules()
    assert day(rules.due(Regulation.GDPR, ts(received))) == due
    assert day(rules.extended(Regulation.GDPR, ts(received))) == extended


def test_ccpa_45_days_then_45_more() -> None:
    rules = Rules()
    received = ts("2026-01-31T10:00")
    assert day(rules.due(Regulation.CCPA, received)) == "2026-03-17T10:00"
    assert day(rules.extended(Regulation.CCPA, received)) == "2026-05-01T10:00"
    assert rules.extension_words("ccpa") == "45 more days"


def test_the_default_regulation_and_where_people_live() -> None:
    rules = Rules(default=Regulation.OTHER, other_days=20, other_extension_days=10)
    received = ts("2026-05-01T00:00")
    assert day(rules.due("other", received)) == "2026-05-21T00:00"
    assert day(rules.extended("other", received)) == "2026-05-31T00:00"
    assert rules.for_location(Location.EU) is Regulation.GDPR
    assert rules.for_location("california") is Regulation.CCPA
    assert rules.for_location("elsewhere") is Regulation.OTHER
    assert Rules().for_location("elsewhere") is Regulation.GDPR  # the built-in default


def test_add_months_clamps_only_when_the_month_is_shorter() -> None:
    assert day(add_months(ts("2026-01-29T00:00"), 1)) == "2026-02-28T00:00"
    assert day(add_months(ts("2026-01-28T00:00"), 1)) == "2026-02-28T00:00"
    assert day(add_months(ts("2026-10-31T00:00"), 14)) == "2027-12-31T00:00"
