"""What a connector step sees (snapshots) and what it returns (updates). Pure data, no I/O.

The engine leases tasks, hands their snapshots to the connector, and persists the updates it
gets back under the lease. A step never touches the database itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class ConnectionConfig:
    id: str
    name: str
    project_id: str
    passcode: str = field(repr=False)
    region: str = "us1"
    deletion_behavior: str = "until-complete"
    email_is_identity: bool = False
    max_in_flight: int = 3
    rate: float = 3.0
    verify_interval: float | None = None
    api_base_url: str | None = None
    timezone: str = "UTC"


# A connection's settings (what a user sets; the id and the passcode aside), named once: the stored
# connection, the services' input and view, the web form and the engine's config all read this.
SETTINGS = tuple(f.name for f in fields(ConnectionConfig) if f.name not in ("id", "passcode"))


def settings_of(source: Any) -> dict[str, Any]:
    """The settings of anything that names them as attributes (a stored connection, a form's input)."""
    return {key: getattr(source, key) for key in SETTINGS}


@dataclass(frozen=True)
class TaskSnapshot:
    id: str
    request_id: str
    request_type: str
    email: str | None
    user_id: str | None
    status: str
    phase: str
    targets: dict[str, Any] | None
    attempts: int
    submit_count: int
    submitted_at: float | None
    first_submitted_at: float | None
    checks: int
    created_at: float


@dataclass(frozen=True)
class EvidenceEntry:
    kind: str  # lookup | delete | note
    outcome: str
    at: float
    method: str | None = None
    endpoint: str | None = None
    status_code: int | None = None
    duration_ms: float | None = None
    data: dict[str, Any] | None = None


@dataclass
class TaskUpdate:
    """The outcome of one step for one task.

    ``changes`` are column values to set (``status`` goes through the state machine).
    ``retry`` asks the engine to back off and try the step again; ``busy`` to come back soon
    without counting an attempt (no budget was free).
    """

    task_id: str
    changes: dict[str, Any] = field(default_factory=dict)
    evidence: list[EvidenceEntry] = field(default_factory=list)
    retry: str | None = None
    slow_down: bool = False
    busy: bool = False
    connection_failing: str | None = None
