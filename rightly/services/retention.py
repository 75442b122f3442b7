"""Retention: keep the personal data of the people who asked no longer than needed.

A recurring sweep (``sweep.retention``, hourly, and at once again while there is a backlog):

- **access results** (the records a vendor returned) are deleted ``results_retention_days`` (default
  30) after the request finished (or after they were delivered, once that is recorded:
  ``facts.delivered_at``);
- the **personal data of finished requests** is replaced by keyed hashes (``Secrets.keyed_hash``)
  ``personal_data_retention_days`` (default 730) after they finished: the request's email and user
  ID; its tasks' vendor state (identities, objectIds) and any access results; and, in the evidence
  and the audit trail, every such identifier inside recorded URLs, answers and data. The same value
  always becomes the same token (``redacted:`` and 32 hex digits), so redacted rows still show that
  two calls were about the same person, and nobody can read the value back.

What still holds afterwards: a proof of deletion is issued before the redaction if none was
(proofs name the subject only by salted commitments, so issued proofs are unchanged and verify); the
hash chains verify (``store.chain``: a redacted row keeps its fields' original digests, sealed); the
metrics count the request (type, status and dates are kept). Each run is audited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

from sqlalchemy import String, cast, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rightly.engine.jobs import JobOutcome, JobSnapshot
from rightly.services import audit, facts, proofs
from rightly.services.audit import Actor
from rightly.services.runtime import Runtime
from rightly.store import chain
from rightly.store.models import Evidence, Proof, Request, Task
from rightly.store.privacy_models import Message

SWEEP = "sweep.retention"
EVERY = 3600.0
BATCH = 100
OPEN = ("received", "processing", "pending_verification")
SYSTEM = Actor("system", "system")
TOKEN = "redacted:"


@dataclass
class Swept:
    results_deleted: int = 0
    redacted: int = 0
    more: bool = False


def register(rt: Runtime) -> None:
    async def sweep(_: JobSnapshot) -> JobOutcome:
        done = await run(rt)
        return JobOutcome.again(rt.clock.now() + (1.0 if done.more else EVERY))

    rt.jobs.add(SWEEP, sweep, max_attempts=20, base_delay=60.0, max_delay=3600.0)
    rt.recurring.append(SWEEP)


async def run(rt: Runtime, limit: int = BATCH) -> Swept:
    """One pass: up to ``limit`` requests' results deleted and ``limit`` requests redacted."""
    now = rt.clock.now()
    swept = Swept()
    results_cutoff = now - rt.settings.results_retention_days * 86400
    personal_cutoff = now - rt.settings.personal_data_retention_days * 86400
    async with rt.db.session() as s:
        due = (
            await s.execute(
                select(Request)
                .where(
                    Request.type == "access",
                    Request.results_deleted_at.is_(None),
                    Request.completed_at.is_not(None),
                    Request.completed_at < results_cutoff,
                    Request.status.not_in(OPEN),
                )
                .order_by(Request.completed_at)
                .limit(limit + 1)
            )
        ).scalars()
        for req in list(due)[:limit]:
            when = facts.delivered_at(req)
            if when is None or when >= results_cutoff:
                continue
            await delete_results(s, req, now)
            swept.results_deleted += 1
        await s.commit()
        closed = list(
            (
                await s.execute(
                    select(Request.id)
                    .where(
                        Request.redacted_at.is_(None),
                        Request.completed_at.is_not(None),
                        Request.completed_at < personal_cutoff,
                        Request.status.not_in(OPEN),
                    )
                    .order_by(Request.completed_at)
                    .limit(limit + 1)
                )
            ).scalars()
        )
    swept.more = len(closed) > limit
    for request_id in closed[:limit]:
        async with rt.db.session() as s:
            await redact_request(s, rt, request_id)
        swept.redacted += 1
    return swept


async def delete_results(s: AsyncSession, req: Request, now: float) -> None:
    await s.execute(update(Task).where(Task.request_id == req.id).values(records=None, updated_at=now))
    req.results_deleted_at = now
    audit.record(s, SYSTEM, "retention.delete_results", audit.target("request", req.id), now)


REDACTED_BODY = '{"subject": "(removed by retention)", "text": "", "html": ""}'


async def redact_request(s: AsyncSession, rt: Runtime, request_id: str) -> None:
    """Replace one finished request's personal data by keyed hashes, everywhere it was recorded."""
    now = rt.clock.now()
    req = await s.get(Request, request_id)
    if req is None or req.redacted_at is not None:
        return
    if req.type == "deletion" and req.completed_at is not None:
        issued = (
            await s.execute(
                select(Proof.id)
                .where(Proof.request_id == req.id, Proof.basis_at == req.completed_at)
                .limit(1)
            )
        ).scalar()
        if issued is None:  # the proof commits to the email: issue it while the email is there
            from rightly.services.requests import get_request

            await proofs.issue(s, rt, SYSTEM, await get_request(s, req.id))
            req = await s.get(Request, request_id)
            assert req is not None
    tasks = list((await s.execute(select(Task).where(Task.request_id == req.id))).scalars())
    evidence = (
        (await s.execute(select(chain.EVIDENCE.table).where(Evidence.task_id.in_([t.id for t in tasks]))))
        .mappings()
        .all()
    )
    values = {v for v in (req.email, req.user_id) if v}
    for t in tasks:
        values |= _strings(t.state)
    for row in evidence:
        values |= _strings(row["data"])
    values = {v for v in values if not v.startswith(TOKEN)}
    r = Redactor(rt, values, req.email)
    sealer = chain.sealer_of(s.sync_session)
    for row in evidence:
        changes = {
            k: v
            for k, v in {
                "endpoint": r.endpoint(row["endpoint"]),
                "outcome": r.text(row["outcome"]),
                "data": r.value(row["data"]),
            }.items()
            if v != row[k]
        }
        if changes:
            await s.execute(
                update(chain.EVIDENCE.table)
                .where(chain.EVIDENCE.table.c.id == row["id"])
                .values(**sealer.redact(chain.EVIDENCE, dict(row), changes))
            )
    entries = await _audit_rows(s, req)
    for row in entries:
        changes = {
            k: v
            for k, v in {
                "actor": r.text(row["actor"]),
                "message": r.text(row["message"]),
                "detail": r.value(row["detail"]),
            }.items()
            if v != row[k]
        }
        if changes:
            await s.execute(
                update(chain.AUDIT.table)
                .where(chain.AUDIT.table.c.id == row["id"])
                .values(**sealer.redact(chain.AUDIT, dict(row), changes))
            )
    messages = list((await s.execute(select(Message).where(Message.request_id == req.id))).scalars())
    for m in messages:  # the only other place the address is kept; the bodies may hold it too
        m.recipient = r.token(m.recipient)[:320]
        m.body_encrypted = rt.secrets.encrypt(REDACTED_BODY)
    for t in tasks:
        t.state = r.value(t.state)
        t.records = None
        t.detail = r.text(t.detail)
        t.error = r.text(t.error)
        t.updated_at = now
    req.email = r.token(req.email) if req.email else None
    req.user_id = r.token(req.user_id) if req.user_id else None
    req.redacted_at = now
    audit.record(
        s,
        SYSTEM,
        "retention.redact",
        audit.target("request", req.id),
        now,
        detail={
            "identifiers": len(values),
            "evidence_rows": len(evidence),
            "audit_entries": len(entries),
            "messages": len(messages),
        },
    )
    await s.commit()


async def _audit_rows(s: AsyncSession, req: Request) -> list[Any]:
    """The audit entries about the request, and any other that names its email."""
    t = chain.AUDIT.table
    which = [t.c.target == audit.target("request", req.id)]
    if req.email:
        pattern = "%" + req.email.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        which += [
            func.lower(t.c.actor) == req.email.lower(),
            func.lower(t.c.message).like(pattern, escape="\\"),
            func.lower(cast(t.c.detail, String)).like(pattern, escape="\\"),
        ]
    return list((await s.execute(select(t).where(or_(*which)))).mappings().all())


def _strings(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value} if value else set()
    if isinstance(value, dict):
        return set().union(*(_strings(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_strings(v) for v in value)) if value else set()
    return set()


class Redactor:
    """Replaces a subject's identifiers by their tokens: whole values anywhere in JSON and URL
    parameters; inside free text, the email (also URL-encoded) and identifiers of 4 characters or
    more standing as a word of their own."""

    def __init__(self, rt: Runtime, values: set[str], email: str | None) -> None:
        self.rt = rt
        self.values = values
        self.lower = {v.lower(): v for v in values if "@" in v}
        forms: list[tuple[str, str]] = []
        for v in sorted(values, key=len, reverse=True):
            if "@" in v or len(v) >= 4:
                for form in {v, quote_plus(v), quote(v, safe="")}:
                    forms.append((form, self.token(v)))
        self.patterns = [
            (re.compile(r"(?<![\w.@%+-])" + re.escape(form) + r"(?![\w@%+-]|\.\w)", re.IGNORECASE), token)
            for form, token in forms
        ]

    def token(self, value: str) -> str:
        normal = value.strip().lower() if "@" in value else value.strip()
        return TOKEN + self.rt.secrets.keyed_hash("retention-subject", normal)[:32]

    def _is_subject(self, value: str) -> bool:
        return value in self.values or value.lower() in self.lower

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.token(value) if self._is_subject(value) else self.text(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        return value

    def text(self, text: str | None) -> str | None:
        if not text:
            return text
        for pattern, token in self.patterns:
            text = pattern.sub(token, text)
        return text

    def endpoint(self, endpoint: str | None) -> str | None:
        if not endpoint:
            return endpoint
        parts = urlsplit(endpoint)
        if not parts.query:
            return self.text(endpoint)
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        query = "&".join(
            f"{quote_plus(k)}={quote_plus(self.token(v) if self._is_subject(v) else v)}" for k, v in pairs
        )
        return f"{self.text(parts.path)}?{query}"
