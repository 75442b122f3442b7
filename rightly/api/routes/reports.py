"""/reports/metrics: the yearly request metrics (CCPA §7102)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from rightly.api.deps import SessionDep
from rightly.services import metrics

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
    result = await metrics.report(session, metrics.period(year, since, until))
    if format == "csv":
        return Response(metrics.to_csv(result), media_type="text/csv")
    return MetricsReport.model_validate(result)
