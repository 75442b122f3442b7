"""The privacy center's tables: the links sent to people, and every message to a person."""

from __future__ import annotations

from sqlalchemy import Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from rightly.store.models import Base, new_id


class Link(Base):
    """A link sent to the person: ``verify`` (single use) or ``results`` (the access download page,
    reusable until it expires). Only a SHA-256 of its random token is kept: the token is 32 random
    bytes, so a fast hash is as safe as a slow one and lets the link be found by an indexed lookup."""

    __tablename__ = "links"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("link"))
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(10))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)
    used_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class Message(Base):
    """One message to a person: queued, then sent through SMTP, or kept in the outbox when no mail
    server is configured. ``body_encrypted`` (subject line, text and HTML parts) is encrypted at
    rest: it may hold a link. ``recipient`` is personal data: with ``requests.email``, the only
    place the subject's address is kept. ``key`` makes a message at most one per request and kind."""

    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("msg"))
    request_id: Mapped[str | None] = mapped_column(ForeignKey("requests.id"), nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(30))
    key: Mapped[str | None] = mapped_column(String(200), nullable=True, unique=True)
    recipient: Mapped[str] = mapped_column(String(320))
    body_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(
        String(10), default="queued", index=True
    )  # queued, sent, kept, failed
    transport: Mapped[str | None] = mapped_column(String(10), nullable=True)  # smtp, outbox
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[float] = mapped_column(Float, index=True)
    sent_at: Mapped[float | None] = mapped_column(Float, nullable=True)
