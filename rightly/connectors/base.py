"""The connector seam: what a vendor integration offers, and the registry that finds one by name.

Everything vendor-specific lives behind ``Connector``: the connection's settings (their fields, how
they are validated and shown), the check made at connect time, how a request becomes a task (its
first phase and private state), the phases and their priorities, which phase runs in batches, one
step, the verification schedule and the error table. The engine, the services and the faces know a
vendor only as a ``Connector`` taken from a ``Registry``: a new vendor is one folder under
``connectors/`` and one line where the registry is built (``rightly.connectors.builtin``).

A step never touches the database: it gets ``TaskSnapshot``s and returns ``TaskUpdate``s
(``rightly.domain.work``), which the engine persists under the task's lease.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import BaseModel

from rightly.domain.clock import Clock
from rightly.domain.enums import Priority, RequestType
from rightly.domain.work import TaskSnapshot, TaskUpdate
from rightly.http.permits import Budget
from rightly.http.vendor import VendorHTTP

FieldKind = Literal["text", "secret", "select", "radio", "checkbox", "number", "url", "timezone"]


@dataclass(frozen=True)
class FieldSpec:
    """One setting as a person is asked for it (web form, CLI option). ``name`` is the key in the
    connector's settings model (or its ``secret_field``); ``choices`` are (value, label, help)."""

    name: str
    label: str
    kind: FieldKind = "text"
    help: str = ""
    required: bool = False
    choices: tuple[tuple[str, str, str], ...] = ()
    advanced: bool = False  # shown under "Advanced settings"
    placeholder: str = ""
    cli_only: bool = False  # offered by the CLI and the API, not the web form


@dataclass(frozen=True)
class Check:
    """One check made when connecting (or testing) a connection, and what it found."""

    name: str
    ok: bool
    detail: str


@dataclass
class Validation:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def problem(self) -> str | None:
        return next((c.detail for c in self.checks if not c.ok), None)

    @property
    def summary(self) -> str:
        return self.problem or "; ".join(c.detail for c in self.checks)


@dataclass(frozen=True)
class Policy:
    """What the server's operator allows every connection (``Settings``), as settings validation
    needs it: a connector refuses a custom API host unless ``allow_custom_base_urls``."""

    allow_custom_base_urls: bool = False


@dataclass(frozen=True)
class ConnectionConfig:
    """A connection as a step sees it: the vendor's validated settings and the decrypted secret."""

    id: str
    name: str
    vendor: str
    settings: Any  # the connector's settings model
    secret: str = field(repr=False)
    max_in_flight: int = 3
    rate: float = 3.0


@dataclass(frozen=True)
class PhaseSpec:
    """How the engine schedules a phase: its budget priority, and whether its due tasks of one
    connection run together in one step (up to ``batch_tasks`` of them; once one is due, those due
    within ``lookahead`` seconds join it)."""

    priority: Priority
    batched: bool = False
    batch_tasks: int = 500
    lookahead: float = 0.0


@dataclass(frozen=True)
class TaskPlan:
    """How a new task starts: its first phase, its private state, and how soon it is due."""

    phase: str
    state: dict[str, Any] | None = None
    delay: float = 0.0


RecordIntent = Callable[[list[str]], Awaitable[None]]


@dataclass
class StepContext:
    """What a step (or a connection check) may use: the vendor HTTP client, the shared call budget,
    the clock, and, for steps, a way to record intent before a remote effect. ``shared`` is the
    connector's own state for the life of one engine (e.g. lookups in flight)."""

    http: VendorHTTP
    budget: Budget
    clock: Clock
    timeout: float = 20.0
    budget_wait: float = 5.0
    record_intent: RecordIntent | None = None
    shared: dict[str, Any] = field(default_factory=dict)

    def now(self) -> float:
        return self.clock.now()


class Connector(ABC):
    """One vendor. Subclasses set the class attributes and implement the methods."""

    vendor: ClassVar[str]  # the registry key and stored ``connections.vendor``
    label: ClassVar[str]  # how people name it: "CleverTap"
    settings_model: ClassVar[type[BaseModel]]  # the settings a connection stores (not the secret)
    secret_field: ClassVar[str]  # the name the secret goes by in forms and bodies ("passcode")
    secret_label: ClassVar[str]
    # Settings that say where calls go and as whom: changing any needs the secret again, so nobody
    # can send a stored secret to a new place.
    identity_fields: ClassVar[frozenset[str]]
    default_max_in_flight: ClassVar[int] = 3
    default_rate: ClassVar[float] = 3.0
    fields: ClassVar[tuple[FieldSpec, ...]]
    troubleshooting: ClassVar[tuple[tuple[str, str], ...]] = ()
    example: ClassVar[dict[str, Any]] = {}  # a body to connect one, for the API's documentation
    phases: ClassVar[Mapping[str, PhaseSpec]]

    # -- settings -----------------------------------------------------------------------------

    def parse_settings(self, raw: Mapping[str, Any], policy: Policy) -> BaseModel:
        """Validate settings as a person gave them (raises pydantic's ValidationError)."""
        return self.settings_model.model_validate(dict(raw), context={"policy": policy})

    def load_settings(self, stored: Mapping[str, Any]) -> BaseModel:
        """Settings as stored (already validated when saved; no policy applies again)."""
        return self.settings_model.model_validate(dict(stored), context={"stored": True})

    def dump_settings(self, settings: BaseModel) -> dict[str, Any]:
        return settings.model_dump(mode="json")

    @abstractmethod
    def check_secret(self, secret: str) -> str:
        """The secret as it will be sent (stripped), or ValueError saying what is wrong, never
        quoting it."""

    @abstractmethod
    def describe(self, settings: Any) -> list[tuple[str, str]]:
        """(label, value) facts a page shows about a connection: never the secret."""

    @abstractmethod
    def target(self, settings: Any) -> str:
        """One short line saying which account this connection reaches ("ABC-123 in us1")."""

    # -- work ---------------------------------------------------------------------------------

    @abstractmethod
    async def validate(self, conn: ConnectionConfig, ctx: StepContext) -> Validation:
        """Check the connection with the vendor now (credentials, permissions)."""

    @abstractmethod
    def plan(
        self, conn: ConnectionConfig, kind: RequestType, email: str | None, user_id: str | None
    ) -> TaskPlan:
        """How a new request's task at this connection starts."""

    @abstractmethod
    def restart(self, conn: ConnectionConfig, kind: RequestType, task: TaskSnapshot) -> TaskPlan:
        """Where a failed or canceled task starts again when someone retries it."""

    @abstractmethod
    async def run(
        self, ctx: StepContext, conn: ConnectionConfig, phase: str, tasks: list[TaskSnapshot]
    ) -> list[TaskUpdate]:
        """Run one step for ``tasks`` (all at ``phase``; several only for a batched phase)."""


class UnknownVendor(LookupError):
    def __init__(self, vendor: str, known: Iterable[str]) -> None:
        super().__init__(f"unknown integration {vendor!r}; expected one of: {', '.join(known)}")
        self.vendor = vendor


class Registry:
    """The connectors this Rightly knows, by vendor name; the first is the default."""

    def __init__(self, connectors: Iterable[Connector]) -> None:
        self._by_vendor: dict[str, Connector] = {}
        for connector in connectors:
            if connector.vendor in self._by_vendor:
                raise ValueError(f"two connectors for {connector.vendor!r}")
            self._by_vendor[connector.vendor] = connector
        if not self._by_vendor:
            raise ValueError("a registry needs at least one connector")

    def get(self, vendor: str) -> Connector:
        found = self._by_vendor.get(vendor)
        if found is None:
            raise UnknownVendor(vendor, self._by_vendor)
        return found

    def __iter__(self) -> Any:
        return iter(self._by_vendor.values())

    def __contains__(self, vendor: object) -> bool:
        return vendor in self._by_vendor

    @property
    def default(self) -> Connector:
        return next(iter(self._by_vendor.values()))

    def phase(self, vendor: str, phase: str) -> PhaseSpec:
        return self.get(vendor).phases[phase]

    def batched_phases(self, vendor: str) -> frozenset[str]:
        """The vendor's phases whose tasks run in batches."""
        return frozenset(name for name, spec in self.get(vendor).phases.items() if spec.batched)

    def priority(self, vendor: str, phase: str) -> Priority:
        """A phase's budget priority (the last phase, done, sorts last)."""
        spec = self.get(vendor).phases.get(phase)
        return spec.priority if spec is not None else Priority.VERIFY
