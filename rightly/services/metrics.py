"""The request metrics report: for a calendar year (UTC) or any range of days, per request type and
regulation, the requests received, complied with in whole or in part, denied, and the median and
mean days to respond, as CCPA's regulations (§7102) ask of large businesses; and the requests
received per month.

A request counts in the period it was received (``created_at``). "Days to respond" runs from its
receipt (the identity verified, for public requests) to when it finished (``completed_at``), over the requests complied with (in whole or in part)
or denied; requests still open, withdrawn, or closed without complying are counted but have no
response time. How each request was answered and its regulation are read through
``rightly.services.facts``.
Retention's redaction leaves every field this reads, so redacted requests still count.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rightly.services import facts
from rightly.services.errors import InvalidInput
from rightly.store.models import Request, Task

RESPONDED = (facts.WHOLE, facts.PART, facts.DENIED)
COUNTS = ("received", facts.WHOLE, facts.PART, facts.DENIED, facts.NOT_COMPLIED, facts.WITHDRAWN, facts.OPEN)
MAX_DAYS = 366 * 10


@dataclass(frozen=True)
class Period:
    start: date  # first day, inclusive
    end: date  # last day, inclusive

    @classmethod
    def year(cls, year: int) -> Period:
        if not 1970 <= year <= 9998:
            raise InvalidInput("the year must be between 1970 and 9998")
        return cls(date(year, 1, 1), date(year, 12, 31))

    @classmethod
    def between(cls, start: date, end: date) -> Period:
        if end < start:
            raise InvalidInput("the period ends before it starts")
        if (end - start).days > MAX_DAYS:
            raise InvalidInput("the period may span at most ten years")
        return cls(start, end)

    @property
    def since(self) -> float:
        return datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC).timestamp()

    @property
    def until(self) -> float:
        return datetime(self.end.year, self.end.month, self.end.day, tzinfo=UTC).timestamp() + 86400

    def months(self) -> list[str]:
        out, y, m = [], self.start.year, self.start.month
        while (y, m) <= (self.end.year, self.end.month):
            out.append(f"{y:04d}-{m:02d}")
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return out


@dataclass
class Row:
    type: str
    regulation: str
    counts: Counter[str] = field(default_factory=Counter)
    days: list[float] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "regulation": self.regulation,
            **{name: self.counts[name] for name in COUNTS},
            "median_days": round(statistics.median(self.days), 1) if self.days else None,
            "mean_days": round(statistics.fmean(self.days), 1) if self.days else None,
        }


async def report(session: AsyncSession, period: Period) -> dict[str, Any]:
    requests = list(
        (
            await session.execute(
                select(Request)
                .where(Request.created_at >= period.since, Request.created_at < period.until)
                .order_by(Request.created_at)
            )
        ).scalars()
    )
    statuses: dict[str, list[str]] = defaultdict(list)
    if requests:
        ids = [r.id for r in requests]
        for i in range(0, len(ids), 500):
            found = await session.execute(
                select(Task.request_id, Task.status).where(Task.request_id.in_(ids[i : i + 500]))
            )
            for request_id, status in found:
                statuses[request_id].append(status)
    rows: dict[tuple[str, str], Row] = {}
    monthly: dict[str, Counter[str]] = {m: Counter() for m in period.months()}
    for req in requests:
        key = (req.type, facts.regulation_of(req))
        row = rows.setdefault(key, Row(*key))
        answer = facts.response_of(req, statuses[req.id])
        row.counts["received"] += 1
        row.counts[answer] += 1
        if answer in RESPONDED and req.completed_at is not None:
            row.days.append((req.completed_at - facts.received_of(req)) / 86400)
        month = datetime.fromtimestamp(req.created_at, UTC).strftime("%Y-%m")
        monthly.setdefault(month, Counter())[req.type] += 1
    total = Row("all", "all")
    for row in rows.values():
        total.counts.update(row.counts)
        total.days += row.days
    return {
        "since": period.start.isoformat(),
        "until": period.end.isoformat(),
        "rows": [rows[k].view() for k in sorted(rows)],
        "total": total.view(),
        "per_month": [{"month": m, **dict(sorted(c.items()))} for m, c in sorted(monthly.items())],
    }


CSV_COLUMNS = ("type", "regulation", *COUNTS, "median_days", "mean_days")


def period(year: int | None, since: date | None, until: date | None) -> Period:
    """A calendar year, or the days from ``since`` to ``until`` (both inclusive)."""
    if year is not None and (since or until):
        raise InvalidInput("give a year, or since and until, not both")
    if year is not None:
        return Period.year(year)
    if since is None or until is None:
        raise InvalidInput("give a year (e.g. 2026), or since and until (2026-01-01 and 2026-06-30)")
    return Period.between(since, until)


def to_csv(result: dict[str, Any]) -> str:
    """One line per type and regulation, then the total."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), extrasaction="ignore")
    writer.writeheader()
    for row in [*result["rows"], result["total"]]:
        writer.writerow(row)
    return buf.getvalue()
