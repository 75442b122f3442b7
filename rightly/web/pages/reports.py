"""The metrics report page: the table per request type and regulation, and requests per month as a
bar chart drawn on the server (SVG, no script)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from rightly.faces.auth import runtime_of
from rightly.services import metrics
from rightly.services.errors import InvalidInput
from rightly.web.render import render

router = APIRouter()
COLORS = {"access": "#1f5fbf", "deletion": "#a3241b"}


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        raise InvalidInput(f"{(value or '')[:20]!r} is not a date (2026-01-31)") from None


@router.get("/reports/metrics")
async def metrics_page(request: Request) -> Response:
    q = request.query_params
    rt = runtime_of(request)
    this_year = datetime.fromtimestamp(rt.clock.now(), UTC).year
    form = {
        "year": q.get("year") or "",
        "since": (q.get("since") or "")[:10],
        "until": (q.get("until") or "")[:10],
    }
    try:
        year = int(form["year"]) if form["year"] else None
        if year is None and not (form["since"] or form["until"]):
            year = this_year
            form["year"] = str(year)
        period = metrics.period(year, _day(form["since"]), _day(form["until"]))
    except (ValueError, InvalidInput) as exc:
        message = str(exc) if isinstance(exc, InvalidInput) else "the year must be a number"
        return render(request, "metrics.html", 422, form=form, error=message, result=None, chart=None)
    async with rt.db.session() as s:
        result = await metrics.report(s, period)
    return render(request, "metrics.html", form=form, result=result, chart=chart(result["per_month"]))


def chart(per_month: list[dict[str, Any]]) -> dict[str, Any]:
    """Bars per month (access and deletion side by side), as numbers the template draws in SVG."""
    kinds = sorted({k for m in per_month for k in m if k != "month"} | {"access", "deletion"})
    top = max([1, *(int(m.get(k, 0)) for m in per_month for k in kinds)])
    step = 10 ** max(0, len(str(top)) - 1)
    ceiling = ((top + step - 1) // step) * step
    width, height, left, bottom = max(320, 44 * len(per_month) + 60), 220, 40, 30
    slot = (width - left - 10) / max(1, len(per_month))
    bar = max(4.0, (slot - 8) / len(kinds))
    bars, labels = [], []
    for i, m in enumerate(per_month):
        x0 = left + i * slot + 4
        labels.append({"x": x0 + (slot - 8) / 2, "text": m["month"][5:] if i else m["month"]})
        for j, k in enumerate(kinds):
            n = int(m.get(k, 0))
            h = (height - bottom - 10) * n / ceiling
            bars.append(
                {
                    "x": x0 + j * bar,
                    "y": height - bottom - h,
                    "w": bar - 1,
                    "h": h,
                    "n": n,
                    "kind": k,
                    "month": m["month"],
                    "color": COLORS.get(k, "#5b6470"),
                }
            )
    ticks = [
        {"y": height - bottom - (height - bottom - 10) * v / ceiling, "v": v}
        for v in (0, ceiling // 2, ceiling)
    ]
    legend = [{"kind": k, "color": COLORS.get(k, "#5b6470")} for k in kinds]
    return {
        "width": width,
        "height": height,
        "bars": bars,
        "labels": labels,
        "ticks": ticks,
        "legend": legend,
        "left": left,
        "base": height - bottom,
    }
