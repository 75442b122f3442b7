"""CleverTap behind the connector seam: settings, the connect-time checks, phases and steps.

access:   lookup -> complete ("N records found" / "no records found")
deletion: [resolve: email -> objectIds] -> submit -> (on-submit: complete)
                                                   -> verify ... -> complete ("deletion verified")
"""

from __future__ import annotations

from typing import Any

from rightly.connectors.base import (
    ConnectionConfig,
    Connector,
    PhaseSpec,
    StepContext,
    TaskPlan,
    Validation,
)
from rightly.connectors.clevertap import steps
from rightly.connectors.clevertap.client import CleverTapClient
from rightly.connectors.clevertap.regions import REGIONS
from rightly.connectors.clevertap.schedule import VerifySchedule
from rightly.connectors.clevertap.settings import (
    FIELDS,
    TROUBLESHOOTING,
    CleverTapSettings,
    DeletionBehavior,
    check_passcode,
)
from rightly.connectors.clevertap.steps import Phase
from rightly.connectors.clevertap.validate import validate
from rightly.domain.enums import Priority, RequestType
from rightly.domain.work import TaskSnapshot, TaskUpdate

BEHAVIOR_LABELS = {
    DeletionBehavior.UNTIL_COMPLETE: "Continue processing until the deletion request is completed",
    DeletionBehavior.ON_SUBMIT: "Complete when the deletion request is submitted",
}


class CleverTap(Connector):
    vendor = "clevertap"
    label = "CleverTap"
    settings_model = CleverTapSettings
    secret_field = "passcode"
    secret_label = "Passcode"
    identity_fields = frozenset({"project_id", "region", "api_base_url"})
    default_max_in_flight = 3
    default_rate = 3.0
    fields = FIELDS
    troubleshooting = TROUBLESHOOTING
    example = {
        "name": "clevertap-prod",
        "project_id": "TEST-ACC-1",
        "passcode": "the-project-passcode",
        "region": "us1",
        "deletion_behavior": "until-complete",
        "max_in_flight": 3,
        "rate": 3.0,
    }
    phases = {
        Phase.LOOKUP: PhaseSpec(Priority.INTERACTIVE),
        Phase.RESOLVE: PhaseSpec(Priority.SUBMIT),
        Phase.SUBMIT: PhaseSpec(Priority.SUBMIT, batched=True, lookahead=steps.SUBMIT_HOLD),
        Phase.VERIFY: PhaseSpec(Priority.VERIFY),
    }

    def check_secret(self, secret: str) -> str:
        return check_passcode(secret)

    def describe(self, settings: Any) -> list[tuple[str, str]]:
        s: CleverTapSettings = settings
        facts = [
            ("Project ID", s.project_id),
            ("Region", f"{REGIONS[s.region].name} ({s.region})"),
            ("Deletion", BEHAVIOR_LABELS[s.deletion_behavior]),
            ("Identity", "the email" if s.email_is_identity else "a user ID (emails are looked up)"),
            ("Time zone", s.timezone),
        ]
        if s.api_base_url:
            facts.append(("API base URL", s.api_base_url))
        return facts

    def target(self, settings: Any) -> str:
        s: CleverTapSettings = settings
        return f"{s.project_id}, {s.region}"

    async def validate(self, conn: ConnectionConfig, ctx: StepContext) -> Validation:
        return await validate(CleverTapClient.for_connection(ctx, conn))

    def plan(
        self, conn: ConnectionConfig, kind: RequestType, email: str | None, user_id: str | None
    ) -> TaskPlan:
        settings: CleverTapSettings = conn.settings
        if kind is RequestType.ACCESS:
            return TaskPlan(Phase.LOOKUP)
        identity = [v for v in (user_id, email if settings.email_is_identity else None) if v]
        if email and not settings.email_is_identity:
            return TaskPlan(Phase.RESOLVE, {"identity": identity})
        return TaskPlan(Phase.SUBMIT, {"identity": identity}, delay=steps.SUBMIT_HOLD)

    def restart(self, conn: ConnectionConfig, kind: RequestType, task: TaskSnapshot) -> TaskPlan:
        if kind is RequestType.ACCESS:
            return TaskPlan(Phase.LOOKUP)
        if task.submitted_at is not None:
            return TaskPlan(Phase.VERIFY, task.state)
        first = self.plan(conn, kind, task.email, task.user_id)
        return TaskPlan(first.phase, (task.state or {}) | (first.state or {}))

    async def run(
        self, ctx: StepContext, conn: ConnectionConfig, phase: str, tasks: list[TaskSnapshot]
    ) -> list[TaskUpdate]:
        run = steps.StepContext(
            CleverTapClient.for_connection(ctx, conn),
            conn,
            VerifySchedule.scaled(conn.settings.verify_interval, conn.settings.timezone),
            ctx.record_intent or _no_intent,
            ctx.shared.setdefault("inflight", {}),
        )
        if phase == Phase.SUBMIT:
            return await steps.run_submit(run, tasks)
        (task,) = tasks
        if phase == Phase.LOOKUP:
            return [await steps.run_access(run, task)]
        if phase == Phase.RESOLVE:
            return [await steps.run_resolve(run, task)]
        if phase == Phase.VERIFY:
            return [await steps.run_verify(run, task)]
        raise ValueError(f"task {task.id} is in phase {phase!r}, which CleverTap has no step for")


async def _no_intent(task_ids: list[str]) -> None:
    raise RuntimeError("a deletion needs its intent recorded first; this context cannot record it")
