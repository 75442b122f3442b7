"""CleverTap's flow, one short step at a time (clevertap-api.md §5, §7; DESIGN.md vocabulary).

access:   lookup -> complete ("N records found" / "no records found")
deletion: [resolve: email -> objectIds] -> submit -> (on-submit: complete)
                                                   -> verify ... -> complete ("deletion verified")
Each step makes its calls, reads them through the error table and returns TaskUpdates.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from rightly.connectors.base import ConnectionConfig, RecordIntent
from rightly.connectors.clevertap.api import (
    MAX_DELETE_VALUES,
    DeleteBy,
    LookupBy,
    delete_request,
    lookup_request,
    object_ids,
    plain_id,
)
from rightly.connectors.clevertap.client import BudgetBusy, CallRecord, CleverTapClient
from rightly.connectors.clevertap.errors import RETRYABLE, Action
from rightly.connectors.clevertap.records import merge_records
from rightly.connectors.clevertap.schedule import VerifySchedule
from rightly.connectors.clevertap.settings import CleverTapSettings, DeletionBehavior
from rightly.domain.enums import Priority, TaskStatus
from rightly.domain.text import storable_json
from rightly.domain.work import EvidenceEntry, TaskSnapshot, TaskUpdate


class Phase:
    """CleverTap's phases (stored as the task's phase; the engine schedules by them)."""

    LOOKUP = "lookup"  # access: look the subject up
    RESOLVE = "resolve"  # deletion by email when email is not the identity: find objectIds
    SUBMIT = "submit"  # deletion: send delete/profiles.json
    VERIFY = "verify"  # deletion: look up again until nothing is found


# A resolved deletion waits this long for others to share its deletion call (at most about a second).
SUBMIT_HOLD = 0.5
# Lookups in flight, shared by every step of one engine: (budget key, by, value) -> (priority, call).
InFlight = dict[tuple[str, str, str], tuple[int, "asyncio.Future[CallRecord]"]]


@dataclass
class StepContext:
    client: CleverTapClient
    conn: ConnectionConfig
    schedule: VerifySchedule
    record_intent: RecordIntent
    inflight: InFlight | None = None

    @property
    def settings(self) -> CleverTapSettings:
        settings: CleverTapSettings = self.conn.settings
        return settings

    def now(self) -> float:
        return self.client.clock.now()


def lookup_keys(
    settings: CleverTapSettings, email: str | None, user_id: str | None
) -> list[tuple[LookupBy, str]]:
    """One lookup per identifier: the email by ``email=`` (or ``identity=`` when the project uses the
    email as its CleverTap identity, so the check matches what deletion used), the user ID by
    ``identity=``."""
    keys: list[tuple[LookupBy, str]] = []
    if email:
        keys.append(("identity" if settings.email_is_identity else "email", email))
    if user_id and ("identity", user_id) not in keys:
        keys.append(("identity", user_id))
    return keys


async def run_access(ctx: StepContext, snap: TaskSnapshot) -> TaskUpdate:
    looked = await _lookups(ctx, snap, Priority.INTERACTIVE)
    if isinstance(looked, TaskUpdate):
        return looked
    calls, update = looked
    # Kept as CleverTap sent them, less what no database or JSON answer can carry (a lone surrogate).
    records = storable_json(merge_records([c.verdict.record for c in calls if c.verdict.record is not None]))
    n = len(records)
    detail = f"{n} record{'s' if n != 1 else ''} found" if n else "no records found"
    update.records = records
    return update.finish(TaskStatus.COMPLETE, detail)


async def run_resolve(ctx: StepContext, snap: TaskSnapshot) -> TaskUpdate:
    """Deletion by an email that is not the CleverTap identity: find the profile's objectIds."""
    assert snap.email is not None
    try:
        call = await lookup(ctx, "email", snap.email, Priority.SUBMIT)
    except BudgetBusy:
        return TaskUpdate(snap.id, busy=True)
    update = TaskUpdate(snap.id, evidence=[_evidence(call)])
    if call.verdict.action not in (Action.OK, Action.NOT_FOUND):
        return _failure(ctx, update, call)
    targets: dict[str, Any] = dict(snap.state or {})
    record = call.verdict.record
    if record is not None:
        guids = object_ids(record)
        if guids:
            targets["guid"] = guids
        elif (identity := plain_id(record.get("identity"))) is not None:
            targets["identity"] = sorted({*targets.get("identity", []), identity})
        else:  # found, but nothing to delete it by: never "no records found"
            reason = (
                "CleverTap found a profile for the email, but it lists no objectId or identity "
                "Rightly can delete it by; delete it in CleverTap's dashboard"
            )
            return update.finish(TaskStatus.ERROR, "profile cannot be deleted by id", reason)
    if not targets.get("guid") and not targets.get("identity"):
        return update.finish(TaskStatus.COMPLETE, "no records found")
    update.state = targets
    update.phase = Phase.SUBMIT
    update.status = TaskStatus.PENDING
    update.next_run_at = ctx.now() + SUBMIT_HOLD
    return update


async def run_submit(ctx: StepContext, snaps: list[TaskSnapshot]) -> list[TaskUpdate]:
    """Submit the deletions of many tasks together: ≤100 identities per call, ≤100 guids per call,
    never both in one call. Intent is stored first, so a crash re-sends instead of losing it."""
    await ctx.record_intent([s.id for s in snaps])
    owners: dict[tuple[str, str], list[str]] = {}
    for snap in snaps:
        for field in ("identity", "guid"):
            for value in (snap.state or {}).get(field, []):
                owners.setdefault((field, value), []).append(snap.id)
    batches: list[tuple[DeleteBy, list[str]]] = []
    fields: tuple[DeleteBy, DeleteBy] = ("identity", "guid")
    for field in fields:
        values = [v for (f, v) in owners if f == field]
        batches += [
            (field, values[i : i + MAX_DELETE_VALUES]) for i in range(0, len(values), MAX_DELETE_VALUES)
        ]
    results = await asyncio.gather(*(_send_delete(ctx, field, values) for field, values in batches))
    per_task: dict[str, list[CallRecord | None]] = {s.id: [] for s in snaps}
    sent: dict[str, list[dict[str, Any]]] = {s.id: [] for s in snaps}
    for (field, values), result in zip(batches, results, strict=True):
        for task_id in {t for v in values for t in owners[(field, v)]}:
            per_task[task_id].append(result)
            # Evidence names this subject's own values and the batch size, never other subjects'.
            mine = [v for v in values if task_id in owners[(field, v)]]
            sent[task_id].append({field: mine, "batch_size": len(values)})
    return [_submitted(ctx, snap, per_task[snap.id], sent[snap.id]) for snap in snaps]


async def run_verify(ctx: StepContext, snap: TaskSnapshot) -> TaskUpdate:
    looked = await _lookups(ctx, snap, Priority.VERIFY)
    if isinstance(looked, TaskUpdate):
        return looked
    calls, update = looked
    now = ctx.now()
    age = now - (snap.first_submitted_at or snap.submitted_at or snap.created_at)
    still = [c for c in calls if c.verdict.action is Action.OK]
    checks = snap.checks + 1
    update.checked = True
    if not still:
        how = " and ".join(f"{by}=" for by, _ in lookup_keys(ctx.settings, snap.email, snap.user_id))
        update.evidence.append(
            EvidenceEntry(
                "note", f"deletion verified: lookups by {how} found nothing", now, data={"checks": checks}
            )
        )
        return update.finish(TaskStatus.COMPLETE, "deletion verified")
    hours = age / 3600
    if ctx.schedule.gave_up(age):
        reason = (
            f"CleverTap still returns the profile {hours:.0f} h after the deletion was submitted "
            f"({snap.submit_count} submissions, {checks} checks); contact CleverTap support"
        )
        return update.finish(TaskStatus.ERROR, "deletion not confirmed", reason)
    if ctx.schedule.should_resubmit(age, snap.submit_count):
        update.evidence.append(EvidenceEntry("note", f"still present after {hours:.0f} h: resubmitting", now))
        update.phase, update.next_run_at, update.detail = Phase.SUBMIT, now, "resubmitting deletion"
        return update
    overdue = ctx.schedule.is_overdue(age)
    update.overdue = overdue
    update.detail = (
        f"overdue: still present after {hours:.0f} h"
        if overdue
        else f"awaiting CleverTap's deletion (check {checks})"
    )
    update.next_run_at = ctx.schedule.next_check(now, checks, snap.first_submitted_at or now)
    return update


# -- helpers -------------------------------------------------------------------------------------


async def _lookups(
    ctx: StepContext, snap: TaskSnapshot, priority: Priority
) -> tuple[list[CallRecord], TaskUpdate] | TaskUpdate:
    """One lookup per identifier, and the update holding their evidence; or, when no budget could
    be had or a call failed, the update that ends the step there."""
    keys = lookup_keys(ctx.settings, snap.email, snap.user_id)
    try:
        pending = [_lookup_call(ctx, by, v, priority) for by, v in keys]
        # Shielded: a step cancelled mid-way must not cancel a call other steps share.
        calls = list(await asyncio.shield(asyncio.gather(*pending)))
    except BudgetBusy:
        return TaskUpdate(snap.id, busy=True)
    update = TaskUpdate(snap.id, evidence=[_evidence(c) for c in calls])
    if (failed := _worst(calls)) is not None:
        return _failure(ctx, update, failed)
    return calls, update


async def lookup(ctx: StepContext, by: LookupBy, value: str, priority: Priority) -> CallRecord:
    """One profile lookup; the same identifier is never looked up twice at once. A step joins a
    lookup already in flight unless that one waits at a lower priority than its own."""
    return await asyncio.shield(_lookup_call(ctx, by, value, priority))


def _lookup_call(
    ctx: StepContext, by: LookupBy, value: str, priority: Priority
) -> asyncio.Future[CallRecord]:
    """The lookup's call: one already in flight for the same identifier (at this priority or a more
    urgent one), else a new one, shared until it ends."""
    shared = ctx.inflight if ctx.inflight is not None else {}
    key = (ctx.client.account.budget_key, by, value)
    entry = shared.get(key)
    if entry is not None and entry[0] <= priority:
        return entry[1]
    request = lookup_request(ctx.client.account, by, value)
    call = asyncio.ensure_future(ctx.client.send(request, "lookup", priority))
    shared[key] = (int(priority), call)

    def ended(done: asyncio.Future[CallRecord]) -> None:
        if not done.cancelled():
            done.exception()  # retrieved, even if nobody waits any more
        if shared.get(key, (0, None))[1] is done:
            del shared[key]

    call.add_done_callback(ended)
    return call


async def _send_delete(ctx: StepContext, field: DeleteBy, values: list[str]) -> CallRecord | None:
    try:
        return await ctx.client.send(
            delete_request(ctx.client.account, field, values), "delete", Priority.SUBMIT
        )
    except BudgetBusy:
        return None


def _submitted(
    ctx: StepContext, snap: TaskSnapshot, results: list[CallRecord | None], sent: list[dict[str, Any]]
) -> TaskUpdate:
    update = TaskUpdate(
        snap.id, evidence=[_evidence(r, what) for r, what in zip(results, sent, strict=True) if r is not None]
    )
    if any(r is None for r in results):
        update.busy = True
        return update
    calls = [r for r in results if r is not None]
    if (failed := _worst(calls)) is not None:
        return _failure(ctx, update, failed)
    now = ctx.now()
    update.submitted = True
    if ctx.settings.deletion_behavior == DeletionBehavior.ON_SUBMIT:
        return update.finish(TaskStatus.COMPLETE, "deletion submitted")
    again = snap.submit_count > 0
    update.status = TaskStatus.PROCESSING
    update.phase = Phase.VERIFY
    update.detail = (
        "deletion resubmitted" if again else "deletion submitted; awaiting CleverTap's nightly batch"
    )
    update.next_run_at = ctx.schedule.next_check(
        now, snap.checks if again else 0, snap.first_submitted_at or now
    )
    return update


_SEVERITY = {
    Action.REJECT_CREDENTIALS: 0,
    Action.FORBIDDEN: 1,
    Action.FAIL: 2,
    Action.SLOW_DOWN: 3,
    Action.RETRY: 4,
}


def _worst(calls: list[CallRecord]) -> CallRecord | None:
    failed = [c for c in calls if c.verdict.action in _SEVERITY]
    return min(failed, key=lambda c: _SEVERITY[c.verdict.action]) if failed else None


def _failure(ctx: StepContext, update: TaskUpdate, call: CallRecord) -> TaskUpdate:
    verdict = call.verdict
    if verdict.action in RETRYABLE:
        update.retry = verdict.reason
        update.slow_down = verdict.action is Action.SLOW_DOWN
        return update
    settings = ctx.settings
    if verdict.action is Action.REJECT_CREDENTIALS:
        reason = (
            f"CleverTap rejected the Project ID or Passcode for region {settings.region} (HTTP 401). Check both "
            "under Settings > Project in CleverTap; a project that lives in another region gets this answer too."
        )
        update.connection_failing = reason
        return update.finish(TaskStatus.ERROR, "credentials rejected", reason)
    if verdict.action is Action.FORBIDDEN:
        what = "delete profiles" if call.call == "delete" else "make this call"
        reason = (
            f"CleverTap refused the operation (HTTP 403): the passcode lacks permission to {what}. "
            "CleverTap requires an Admin's passcode for deletions."
        )
        update.connection_failing = reason
        return update.finish(TaskStatus.ERROR, "permission denied", reason)
    return update.finish(TaskStatus.ERROR, "request refused", verdict.reason)


def _evidence(call: CallRecord, sent: dict[str, Any] | None = None) -> EvidenceEntry:
    v = call.verdict
    data: dict[str, Any] | None = dict(sent) if sent else None
    if v.action is Action.OK and call.call == "lookup" and v.record is not None:
        outcome = "profile found"
        data = (data or {}) | {"objectIds": object_ids(v.record)}
    else:
        outcome = v.reason
    return EvidenceEntry(
        kind=call.call,
        outcome=outcome,
        at=call.at,
        method=call.method,
        host=call.host,
        endpoint=call.endpoint,
        status_code=call.status_code,
        duration_ms=call.duration_ms,
        data=data,
    )
