"""The connector seam holds: a second vendor, defined here in the test, connects, answers an access
request and carries a deletion through a batched submission and a verification, with no change to
the engine, the services or the faces. Its "vendor" is an httpx.MockTransport standing in for an API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, ConfigDict, Field

from rightly.app.runtime import open_runtime
from rightly.connectors.base import (
    Check,
    ConnectionConfig,
    Connector,
    FieldSpec,
    PhaseSpec,
    Registry,
    StepContext,
    TaskPlan,
    Validation,
)
from rightly.connectors.clevertap.connector import CleverTap
from rightly.domain.clock import FakeClock
from rightly.domain.enums import Priority, RequestType, TaskStatus
from rightly.domain.work import EvidenceEntry, TaskSnapshot, TaskUpdate
from rightly.http.permits import Limits
from rightly.http.vendor import VendorRequest
from rightly.services import connections as conns
from rightly.services import requests as reqs
from rightly.services.runtime import Runtime
from rightly.settings import Settings
from tests.core.helpers import ACTOR, run_until_done, view, worker

TOKEN = "crm-api-token-1234"


class CrmSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    workspace: str = Field(min_length=1, max_length=50)


class Crm(Connector):
    """A minimal vendor: GET /contacts?email= finds a contact; POST /erase erases many at once."""

    vendor = "crm"
    label = "Tiny CRM"
    settings_model = CrmSettings
    secret_field = "api_token"
    secret_label = "API token"
    identity_fields = frozenset({"workspace"})
    fields = (
        FieldSpec("workspace", "Workspace", required=True),
        FieldSpec("api_token", "API token", kind="secret"),
    )
    phases = {
        "find": PhaseSpec(Priority.INTERACTIVE),
        "erase": PhaseSpec(Priority.SUBMIT, batched=True),
        "confirm": PhaseSpec(Priority.VERIFY),
    }

    def check_secret(self, secret: str) -> str:
        if not secret.strip():
            raise ValueError("the API token is required")
        return secret.strip()

    def describe(self, settings: Any) -> list[tuple[str, str]]:
        return [("Workspace", settings.workspace)]

    def target(self, settings: Any) -> str:
        return settings.workspace

    async def validate(self, conn: ConnectionConfig, ctx: StepContext) -> Validation:
        ok = conn.secret == TOKEN
        return Validation([Check("token", ok, "accepted" if ok else "the CRM refused the token")])

    def plan(
        self, conn: ConnectionConfig, kind: RequestType, email: str | None, user_id: str | None
    ) -> TaskPlan:
        return TaskPlan("find" if kind is RequestType.ACCESS else "erase", {"email": email})

    def restart(self, conn: ConnectionConfig, kind: RequestType, task: TaskSnapshot) -> TaskPlan:
        return self.plan(conn, kind, task.email, task.user_id)

    async def _call(self, ctx: StepContext, conn: ConnectionConfig, request: VendorRequest) -> Any:
        limits = Limits(conn.max_in_flight, conn.rate)
        permit = await ctx.budget.acquire(
            f"crm:{conn.settings.workspace}", limits, Priority.INTERACTIVE, max_wait=1
        )
        assert permit is not None
        try:
            return json.loads((await ctx.http.send(request, ctx.timeout)).content)
        finally:
            await ctx.budget.release(permit)

    async def run(
        self, ctx: StepContext, conn: ConnectionConfig, phase: str, tasks: list[TaskSnapshot]
    ) -> list[TaskUpdate]:
        base, headers = (
            f"https://{conn.settings.workspace}.crm.test",
            {"Authorization": f"Bearer {conn.secret}"},
        )
        if phase == "erase":
            assert ctx.record_intent is not None
            await ctx.record_intent([t.id for t in tasks])
            emails = [t.email for t in tasks]
            await self._call(ctx, conn, VendorRequest.post_json(f"{base}/erase", {"emails": emails}, headers))
            return [
                TaskUpdate(
                    t.id,
                    status=TaskStatus.PROCESSING,
                    phase="confirm",
                    detail=f"erasure sent with {len(tasks)} others" if len(tasks) > 1 else "erasure sent",
                    submitted=True,
                    next_run_at=ctx.now() + 60,
                    evidence=[EvidenceEntry("erase", "accepted", ctx.now(), data={"batch_size": len(tasks)})],
                )
                for t in tasks
            ]
        (task,) = tasks
        found = await self._call(
            ctx, conn, VendorRequest.get(f"{base}/contacts", {"email": task.email or ""}, headers)
        )
        update = TaskUpdate(task.id, evidence=[EvidenceEntry("lookup", "answered", ctx.now())])
        if phase == "find":
            update.records = found["contacts"]
            return [update.finish(TaskStatus.COMPLETE, f"{len(found['contacts'])} found")]
        update.checked = True
        if found["contacts"]:
            update.next_run_at = ctx.now() + 60
            update.detail = "still there"
            return [update]
        return [update.finish(TaskStatus.COMPLETE, "erasure confirmed")]


class FakeCrm:
    """The CRM's API: contacts by email; an erase removes them."""

    def __init__(self) -> None:
        self.contacts = {"ada@example.com": {"name": "Ada"}, "grace@example.com": {"name": "Grace"}}
        self.erase_calls: list[list[str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return httpx.Response(401, json={"error": "bad token"})
        if request.url.path == "/contacts":
            found = self.contacts.get(request.url.params["email"])
            return httpx.Response(200, json={"contacts": [found] if found else []})
        emails = json.loads(request.content)["emails"]
        self.erase_calls.append(emails)
        for email in emails:
            self.contacts.pop(email, None)
        return httpx.Response(200, json={"erased": len(emails)})


@pytest.fixture
async def crm_runtime(db_settings: Settings, clock: FakeClock) -> AsyncIterator[tuple[Runtime, FakeCrm]]:
    crm = FakeCrm()
    registry = Registry([Crm(), CleverTap()])
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(crm)) as http,
        open_runtime(db_settings, clock=clock, http=http, registry=registry) as rt,
    ):
        yield rt, crm


async def test_a_second_vendor_runs_access_and_deletion_through_the_same_engine(
    crm_runtime: tuple[Runtime, FakeCrm], clock: FakeClock
) -> None:
    rt, crm = crm_runtime
    async with rt.db.session() as s:
        with pytest.raises(conns.ValidationFailed, match="refused the token"):
            await conns.connect(
                s,
                rt,
                ACTOR,
                conns.ConnectionInput.model_validate({"name": "crm", "workspace": "acme", "api_token": "no"}),
            )
        conn, _ = await conns.connect(
            s,
            rt,
            ACTOR,
            conns.ConnectionInput.model_validate({"name": "crm", "workspace": "acme", "api_token": TOKEN}),
        )
    assert conns.connection_view(rt, conn)["target"] == "acme"
    assert TOKEN.encode() not in conn.secret_encrypted and conn.settings == {"workspace": "acme"}

    async with rt.db.session() as s:
        access, _ = await reqs.submit(s, rt, ACTOR, "access", "ada@example.com", None)
        deletions = [
            (await reqs.submit(s, rt, ACTOR, "deletion", email, None))[0].id
            for email in ("ada@example.com", "grace@example.com")
        ]
    await run_until_done(rt)  # the deletions wait for confirmation: advance past their next check
    (item,) = (await view(rt, access.id))["integrations"]
    assert (item["status"], item["detail"], item["records"]) == ("complete", "1 found", [{"name": "Ada"}])
    assert [sorted(c) for c in crm.erase_calls] == [
        ["ada@example.com", "grace@example.com"]
    ]  # one batched call
    for rid in deletions:
        (item,) = (await view(rt, rid))["integrations"]
        assert (item["status"], item["detail"]) == ("complete", "erasure confirmed")
        assert item["submitted_at"] is not None and item["checks"] == 1
    audit_actions = {e.action for e in await _audit(rt)}
    assert {"connection.create", "request.submit"} <= audit_actions


async def _audit(rt: Runtime) -> list[Any]:
    from sqlalchemy import select

    from rightly.store.auth_models import AuditEntry

    async with rt.db.session() as s:
        return list((await s.execute(select(AuditEntry))).scalars())


class Sloppy(Crm):
    """A connector with a bug: it returns one update where a list is due."""

    async def run(
        self, ctx: StepContext, conn: ConnectionConfig, phase: str, tasks: list[TaskSnapshot]
    ) -> list[TaskUpdate]:
        return TaskUpdate(tasks[0].id).finish(TaskStatus.COMPLETE, "done")  # type: ignore[return-value]


async def test_a_connector_bug_is_retried_and_shown_never_recorded_as_an_outcome(
    db_settings: Settings, clock: FakeClock
) -> None:
    async with open_runtime(db_settings, clock=clock, registry=Registry([Sloppy()])) as rt:
        async with rt.db.session() as s:
            await conns.connect(
                s,
                rt,
                ACTOR,
                conns.ConnectionInput.model_validate(
                    {"name": "crm", "workspace": "acme", "api_token": TOKEN}
                ),
            )
            req, _ = await reqs.submit(s, rt, ACTOR, "access", "ada@example.com", None)
        w = worker(rt)
        await w.run_until_idle()
        (item,) = (await view(rt, req.id))["integrations"]
        assert item["status"] == "pending" and item["detail"].endswith("internal error: TypeError")
        assert w.health.failures == 0  # the worker's own rounds are fine: only the step failed
