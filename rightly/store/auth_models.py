"""Users, their credentials (API tokens and browser sessions) and the audit trail."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rightly.store.models import Base, new_id


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("user"))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    role: Mapped[str] = mapped_column(String(30))
    # Argon2id (argon2-cffi's PHC string); None: the user signs in with API tokens only.
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class Credential(Base):
    """An API token (kind "api") or a browser session (kind "session").

    Only a SHA-256 of the secret is kept: the secret is 32 random bytes, so a fast hash is as safe
    as a slow one and lets every request find its credential by an indexed lookup.
    """

    __tablename__ = "credentials"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("tok"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(100))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_used_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)

    user: Mapped[User] = relationship()


class AuditEntry(Base):
    """One thing someone did, and how it went. Rows are only ever inserted, each sealing the one
    before (``rightly.store.chain``); retention may replace a subject's identifiers in ``actor``,
    ``message`` and ``detail`` (and nothing else)."""

    __tablename__ = "audit_entries"
    __chain__ = "audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float, index=True)
    actor_type: Mapped[str] = mapped_column(String(10))  # user, token, cli, system, anonymous
    actor: Mapped[str] = mapped_column(String(320), index=True)
    action: Mapped[str] = mapped_column(String(50), index=True)
    target: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    outcome: Mapped[str] = mapped_column(String(20))  # ok, failed, denied, replayed
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    seq: Mapped[int | None] = mapped_column(Integer, nullable=True, unique=True, index=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    redacted: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
