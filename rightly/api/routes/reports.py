"""/reports/metrics: the yearly request metrics (CCPA §7102)."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from rightly.api.deps import SessionDep
from rightly.services import metrics
from rightly.services.errors import InvalidInput

router = APIRouter(prefix="/reports", tags=["reports"])


class MetricsRow(BaseModel):
    type: str
    regulation: str
    received: int
    complied_in_whole: int
    complied_in_part: int
    denied: int
    not_complied: int
    withdrawn: int
    open: int
    median_days: float | None
    mean_days: float | None


class MetricsReport(BaseModel):
    since: str
    until: str
    rows: list[MetricsRow]
    total: MetricsRow
    per_month: list[dict[str, str | int]]


def period_of(year: int | None, since: date | None, until: date | None) -> metrics.Period:
    if year is not None and (since or until):
        raise InvalidInput("give a year, or since and until, not both")
    if year is not None:
        return metrics.Period.year(year)
    if since is None or until is None:
        raise InvalidInput(
            "give a year (?year=2026), or since and until (?since=2026-01-01&until=2026-06-30)"
        )
    return metrics.Period.between(since, until)


@router.get(
    "/metrics",
    response_model=MetricsReport,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "JSON, or CSV"}},
    summary="Requests received, complied with in whole or in part, denied, and days to respond, per type and regulation",
)
async def report_metrics(
    year: int | None = Query(default=None, ge=1970, le=9998),
    since: date | None = Query(default=None, description="First day (inclusive), with until"),
    until: date | None = Query(default=None, description="Last day (inclusive), with since"),
    format: Literal["json", "csv"] = "json",
    session: AsyncSession = SessionDep,
) -> Response | MetricsReport:
    result = await metrics.report(session, period_of(year, since, until))
    if format == "csv":
        return Response(to_csv(result), media_type="text/csv")
    return MetricsReport.model_validate(result)


def to_csv(result: dict[str, object]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(metrics.CSV_COLUMNS), extrasaction="ignore")
    writer.writeheader()
    for row in [*result["rows"], result["total"]]:  # type: ignore[misc]
        writer.writerow(row)
    return buf.getvalue()
