"""The metrics report for a fixture of requests with known outcomes and dates: every figure as
computed by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from rightly.services import facts, metrics
from rightly.services.errors import InvalidInput
from rightly.services.runtime import Runtime
from rightly.store.models import Request, Task
from tests.core.helpers import connect

DAY = 86400.0


def _t(day: str) -> float:
    return datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()


# type, regulation, received, status, finished (None: still open), task statuses
FIXTURE: list[tuple[str, str, str, str, str | None, list[str]]] = [
    ("access", "gdpr", "2026-01-10T09:00", "complete", "2026-01-12T09:00", ["complete"]),  # 2 days
    ("access", "gdpr", "2026-01-20T00:00", "complete", "2026-01-30T00:00", ["complete"]),  # 10 days
    (
        "access",
        "ccpa",
        "2026-02-01T12:00",
        "error",
        "2026-02-05T12:00",
        ["complete", "error"],
    ),  # in part, 4 d
    ("access", "gdpr", "2026-03-01T00:00", "processing", None, ["processing"]),  # open
    ("deletion", "ccpa", "2026-02-10T00:00", "complete", "2026-02-13T00:00", ["complete"]),  # 3 days
    ("deletion", "ccpa", "2026-02-15T00:00", "error", "2026-02-16T00:00", ["error"]),  # not complied
    ("deletion", "gdpr", "2026-03-05T00:00", "canceled", "2026-03-06T00:00", ["canceled"]),  # withdrawn
    ("deletion", "ccpa", "2026-04-01T00:00", "denied", "2026-04-08T00:00", []),  # denied, 7 days
    ("deletion", "ccpa", "2026-05-01T00:00", "closed_unverified", "2026-05-08T00:00", []),  # denied, 7 d
    ("access", "gdpr", "2025-12-31T23:59:59", "complete", "2026-01-02T00:00", ["complete"]),  # year before
    ("deletion", "gdpr", "2027-01-01T00:00", "complete", "2027-01-02T00:00", ["complete"]),  # year after
]


async def _fixture(rt: Runtime) -> None:
    conn = await connect(rt)
    async with rt.db.session() as s:
        for kind, regulation, received, status, finished, tasks in FIXTURE:
            created, done = _t(received), _t(finished) if finished else None
            s.add(
                Request(
                    type=kind,
                    regulation=regulation,
                    status=status,
                    email="someone@example.com",
                    created_at=created,
                    updated_at=done or created,
                    due_at=created + 30 * DAY,
                    completed_at=done,
                    tasks=[
                        Task(
                            connection_id=conn.id,
                            status=t,
                            phase="done",
                            done=t in ("complete", "error", "canceled"),
                            next_run_at=created,
                            created_at=created,
                            updated_at=created,
                        )
                        for t in tasks
                    ],
                )
            )
        await s.commit()


def _row(kind: str, regulation: str, **counts: Any) -> dict[str, Any]:
    zero = dict.fromkeys(metrics.COUNTS, 0)
    return {"type": kind, "regulation": regulation, **zero, **counts}


async def test_the_metrics_of_a_year_are_as_computed_by_hand(runtime: Runtime) -> None:
    await _fixture(runtime)
    async with runtime.db.session() as s:
        got = await metrics.report(s, metrics.Period.year(2026))
    assert got["rows"] == [
        _row("access", "ccpa", received=1, complied_in_part=1, median_days=4.0, mean_days=4.0),
        _row("access", "gdpr", received=3, complied_in_whole=2, open=1, median_days=6.0, mean_days=6.0),
        _row(
            "deletion",
            "ccpa",
            received=4,
            complied_in_whole=1,
            denied=2,
            not_complied=1,
            median_days=7.0,
            mean_days=5.7,
        ),
        _row("deletion", "gdpr", received=1, withdrawn=1, median_days=None, mean_days=None),
    ]
    assert got["total"] == _row(
        "all",
        "all",
        received=9,
        complied_in_whole=3,
        complied_in_part=1,
        denied=2,
        not_complied=1,
        withdrawn=1,
        open=1,
        median_days=5.5,
        mean_days=5.5,
    )
    months = {m["month"]: {k: v for k, v in m.items() if k != "month"} for m in got["per_month"]}
    assert len(months) == 12
    assert months["2026-01"] == {"access": 2}
    assert months["2026-02"] == {"access": 1, "deletion": 2}
    assert months["2026-03"] == {"access": 1, "deletion": 1}
    assert months["2026-04"] == {"deletion": 1} and months["2026-05"] == {"deletion": 1}
    assert months["2026-12"] == {}

    async with runtime.db.session() as s:
        q1 = await metrics.report(s, metrics.Period.between(date(2026, 1, 1), date(2026, 1, 31)))
    assert q1["total"]["received"] == 2 and q1["total"]["median_days"] == 6.0


def test_the_regulation_and_the_answer_are_read_through_one_interface() -> None:
    assert facts.regulation_of(SimpleNamespace()) == "unspecified"
    assert facts.regulation_of(SimpleNamespace(regulation="ccpa")) == "ccpa"
    req = SimpleNamespace(status="denied", completed_at=1.0)
    assert facts.response_of(req, []) == "denied"


def test_a_period_is_checked() -> None:
    with pytest.raises(InvalidInput, match="ends before it starts"):
        metrics.Period.between(date(2026, 2, 1), date(2026, 1, 1))
    with pytest.raises(InvalidInput, match="ten years"):
        metrics.Period.between(date(2000, 1, 1), date(2026, 1, 1))
