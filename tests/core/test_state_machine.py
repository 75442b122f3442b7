"""The task state machine, the request roll-up and the verification schedule (pure)."""

from __future__ import annotations

import pytest

from rightly.connectors.clevertap.schedule import HOUR, VerifySchedule
from rightly.domain.states import InvalidTransition, rollup, transition


def test_finished_tasks_do_not_reopen_except_by_retry() -> None:
    assert transition("not_started", "pending") == "pending"
    assert transition("processing", "complete") == "complete"
    assert transition("error", "pending") == "pending"
    with pytest.raises(InvalidTransition):
        transition("complete", "processing")
    with pytest.raises(InvalidTransition):
        transition("processing", "pending")
    with pytest.raises(ValueError):
        transition("pending", "running")


@pytest.mark.parametrize(
    ("tasks", "status"),
    [
        ([], "received"),
        (["not_started", "not_started"], "received"),
        (["pending", "not_started"], "processing"),
        (["processing", "complete"], "processing"),
        (["complete", "complete"], "complete"),
        (["complete", "error"], "error"),
        (["canceled", "canceled"], "canceled"),
        (["complete", "canceled"], "complete"),
    ],
)
def test_request_status_rolls_up_from_tasks(tasks: list[str], status: str) -> None:
    assert rollup(tasks) == status


def test_default_schedule_fits_the_nightly_batch() -> None:
    s = VerifySchedule()
    assert s.delay_after(0) == 1 * HOUR
    assert [s.delay_after(n) / HOUR for n in range(5)] == [1, 2, 4, 6, 6]
    assert not s.is_overdue(71 * HOUR) and s.is_overdue(72 * HOUR)
    assert s.should_resubmit(50 * HOUR, 1) and not s.should_resubmit(50 * HOUR, 2)
    assert not s.should_resubmit(49 * HOUR, 1)
    assert s.gave_up(30 * 24 * HOUR) and not s.gave_up(29 * 24 * HOUR)


def test_verify_interval_scales_the_whole_schedule() -> None:
    s = VerifySchedule.scaled(2.0)
    assert s.delay_after(0) == 2.0
    assert s.overdue_after == pytest.approx(144.0)
    assert s.resubmit_after == pytest.approx(100.0)
    assert s.give_up_after == pytest.approx(2 * 24 * 30)
