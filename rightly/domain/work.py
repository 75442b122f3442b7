"""What a connector step sees (snapshots) and what it returns (updates). Pure data, no I/O.

The engine leases tasks, hands their snapshots to the connector, and persists the updates it
gets back under the lease. A step never touches the database itself, and never names a column:
an update says what happened (a status, a phase, "the deletion was submitted", "a check ran") and
the engine decides how that is stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rightly.domain.enums import TaskStatus

DONE = "done"  # every connector's last phase: nothing more to run


@dataclass(frozen=True)
class TaskSnapshot:
    id: str
    request_id: str
    request_type: str
    email: str | None
    user_id: str | None
    status: str
    phase: str
    state: dict[str, Any] | None  # the connector's own bookkeeping (e.g. what to delete)
    attempts: int
    submit_count: int
    submitted_at: float | None
    first_submitted_at: float | None
    checks: int
    created_at: float


@dataclass(frozen=True)
class EvidenceEntry:
    """One thing asked of a vendor (or noted about it): never a header, so never a secret."""

    kind: str  # lookup | delete | note | ...
    outcome: str
    at: float
    method: str | None = None
    host: str | None = None  # where the call went (scheme://host[:port])
    endpoint: str | None = None  # path and query
    status_code: int | None = None
    duration_ms: float | None = None
    data: dict[str, Any] | None = None


@dataclass
class TaskUpdate:
    """The outcome of one step for one task.

    ``status`` goes through the state machine; a terminal status (complete, error) finishes the
    task. ``submitted``: the vendor accepted a deletion now. ``checked``: a verification check ran.
    ``retry`` asks the engine to back off and try the step again (an attempt is counted); ``busy``
    to come back soon without counting one (no budget was free). ``connection_failing`` marks the
    whole connection unhealthy with that reason.
    """

    task_id: str
    status: TaskStatus | None = None
    phase: str | None = None
    detail: str | None = None
    error: str | None = None
    next_run_at: float | None = None
    state: dict[str, Any] | None = None
    records: list[dict[str, Any]] | None = None
    submitted: bool = False
    checked: bool = False
    overdue: bool | None = None
    evidence: list[EvidenceEntry] = field(default_factory=list)
    retry: str | None = None
    slow_down: bool = False
    busy: bool = False
    connection_failing: str | None = None

    def finish(self, status: TaskStatus, detail: str, error: str | None = None) -> TaskUpdate:
        """End the task (complete or error) with a detail label, and an error for an error."""
        self.status, self.detail, self.error, self.phase = status, detail, error, DONE
        return self
