"""SQLAlchemy models. The database is the single source of truth and the queue.

Times are epoch seconds (float, UTC) so the same queue arithmetic runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Connection(Base):
    """One configured integration: a vendor account (for CleverTap, a project in a region).

    ``settings`` are the vendor's own (its connector validates and reads them); ``secret_encrypted``
    is the vendor secret (CleverTap's passcode), encrypted; ``max_in_flight`` and ``rate`` are the
    call budget, which every vendor has."""

    __tablename__ = "connections"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("conn"))
    name: Mapped[str] = mapped_column(String(100), unique=True)
    vendor: Mapped[str] = mapped_column(String(30))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    max_in_flight: Mapped[int] = mapped_column(Integer, default=3)
    rate: Mapped[float] = mapped_column(Float, default=3.0)
    health: Mapped[str] = mapped_column(String(20), default="untested")
    health_detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_tested_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    removed_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class Request(Base):
    """One subject's access or deletion request.

    Personal data: ``email`` and ``user_id`` (and the recipient of its messages, in ``messages``)
    are the only places the subject's identifiers are kept. ``due_at`` is the legal deadline once
    the clock runs (``received_at`` set); before that (pending verification) it holds a provisional
    value that no view shows."""

    __tablename__ = "requests"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("req"))
    type: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="received", index=True)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True, index=True)
    user_id: Mapped[str | None] = mapped_column(String(256), nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True, unique=True)
    submitted_by: Mapped[str | None] = mapped_column(String(320), nullable=True)
    created_at: Mapped[float] = mapped_column(Float, index=True)
    updated_at: Mapped[float] = mapped_column(Float)
    due_at: Mapped[float] = mapped_column(Float)
    completed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    # The privacy center (migration 0007).
    regulation: Mapped[str] = mapped_column(String(10), default="other")  # gdpr, ccpa, other
    origin: Mapped[str] = mapped_column(String(10), default="staff")  # staff, public
    received_at: Mapped[float | None] = mapped_column(Float, nullable=True)  # the legal clock starts
    verified_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    verified_by: Mapped[str | None] = mapped_column(String(320), nullable=True)  # "email link" or staff
    reminded_at: Mapped[float | None] = mapped_column(Float, nullable=True)  # verification reminder
    extended_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    extension_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    decided_at: Mapped[float | None] = mapped_column(Float, nullable=True)  # the review gate
    decided_by: Mapped[str | None] = mapped_column(String(320), nullable=True)
    denial_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    overdue_at: Mapped[float | None] = mapped_column(Float, nullable=True)  # request.overdue emitted
    # Retention (services/retention.py): when an access request's results were deleted, and when the
    # subject's personal data was replaced by keyed hashes.
    results_deleted_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    redacted_at: Mapped[float | None] = mapped_column(Float, nullable=True, index=True)

    tasks: Mapped[list[Task]] = relationship(back_populates="request", order_by="Task.created_at")


class Task(Base):
    """One request at one connection; also the queue entry the engine leases."""

    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_due", "done", "priority", "next_run_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("task"))
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"), index=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="not_started")
    phase: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(String(300), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    next_run_at: Mapped[float] = mapped_column(Float)
    lease_owner: Mapped[str | None] = mapped_column(String(100), nullable=True)
    lease_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The connector's own bookkeeping (for CleverTap: what to delete).
    state: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # Deletion bookkeeping every vendor shares: when it was sent, how verification is going.
    submit_count: Mapped[int] = mapped_column(Integer, default=0)
    submit_intent_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    submitted_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    first_submitted_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    checks: Mapped[int] = mapped_column(Integer, default=0)
    last_checked_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    records: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    completed_at: Mapped[float | None] = mapped_column(Float, nullable=True)

    request: Mapped[Request] = relationship(back_populates="tasks")
    connection: Mapped[Connection] = relationship()


class Evidence(Base):
    """What was asked of the vendor, when, and what it answered (never the passcode). Rows are only
    ever inserted, each sealing the one before (``rightly.store.chain``); retention may replace the
    subject's identifiers in ``endpoint``, ``outcome`` and ``data`` (and nothing else)."""

    __tablename__ = "evidence"
    __chain__ = "evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id"), index=True)
    at: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(30))
    method: Mapped[str | None] = mapped_column(String(10), nullable=True)
    host: Mapped[str | None] = mapped_column(Text, nullable=True)  # scheme://host[:port]
    endpoint: Mapped[str | None] = mapped_column(Text, nullable=True)  # path and query
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duration_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    outcome: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    seq: Mapped[int | None] = mapped_column(Integer, nullable=True, unique=True, index=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    redacted: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class Job(Base):
    """One piece of background work that is not a vendor step: sending a message, delivering a
    webhook, a periodic sweep. The same durable queue as tasks: leased, retried with backoff, and
    every failure counted and shown (``last_error``)."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_due", "status", "next_run_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("job"))
    kind: Mapped[str] = mapped_column(String(50), index=True)
    # At most one pending job per key (a recurring sweep, one delivery per event and endpoint).
    key: Mapped[str | None] = mapped_column(String(200), nullable=True, unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # never a secret or a link token
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending, done, failed
    next_run_at: Mapped[float] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(100), nullable=True)
    lease_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class ThrottleHit(Base):
    """One attempt counted against a limit (a sign-in, a public submission). The key (a client
    address, an email) is kept only as a keyed hash."""

    __tablename__ = "throttle_hits"
    __table_args__ = (Index("ix_throttle_hits_lookup", "scope", "key_hash", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(40))
    key_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[float] = mapped_column(Float)


class ChainHead(Base):
    """The last sealed row of each hash chain ("audit", "evidence"). Appends lock it (PostgreSQL: a
    row lock until commit; SQLite: the write lock), so concurrent writers chain one after another."""

    __tablename__ = "chain_heads"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class Proof(Base):
    """A signed proof of deletion as issued: the exact document (``rightly.domain.proof``). It names
    the subject only by salted commitments, so retention leaves it as it is and it still verifies."""

    __tablename__ = "proofs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("proof"))
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"), index=True)
    issued_at: Mapped[float] = mapped_column(Float)
    basis_at: Mapped[float] = mapped_column(Float)  # the request's completed_at it documents
    key_id: Mapped[str] = mapped_column(String(64))
    document: Mapped[str] = mapped_column(Text)


class ProofKey(Base):
    """Every public key that ever signed a proof (so proofs signed before a rotation still verify)."""

    __tablename__ = "proof_keys"

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    public_key: Mapped[str] = mapped_column(String(64))  # raw Ed25519 public key, hex
    first_used_at: Mapped[float] = mapped_column(Float)


class WebhookEndpoint(Base):
    """Where events are delivered (Standard Webhooks), which events, and how delivery is going. The
    signing secret (whsec_...) is stored encrypted and shown once, when the endpoint is added."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("wh"))
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[Any]] = mapped_column(JSON)
    description: Mapped[str | None] = mapped_column(String(200), nullable=True)
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_by: Mapped[str] = mapped_column(String(320))  # the super admin who added it (its owner)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    failing_since: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_success_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    disabled_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    removed_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class WebhookAttempt(Base):
    """One delivery attempt: which message, when, the HTTP status (or why there was none)."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_endpoint", "endpoint_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id"))
    message_id: Mapped[str] = mapped_column(String(60))
    event: Mapped[str] = mapped_column(String(50))
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[float] = mapped_column(Float)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duration_ms: Mapped[int] = mapped_column(Integer)
    ok: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(String(300), nullable=True)
