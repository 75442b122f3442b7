"""The API's bodies: what it accepts and what it answers, with the examples OpenAPI shows."""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from rightly.domain.enums import RequestType
from rightly.domain.regulations import Location, Regulation
from rightly.domain.roles import Role
from rightly.services.errors import InvalidInput
from rightly.services.requests import normalize_subject

T = TypeVar("T")


def plain_text(value: str | None) -> str | None:
    """Refuse what no database or header can hold: lone surrogates and control characters."""
    if value is not None and any(0xD800 <= ord(c) <= 0xDFFF or ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("must be printable text")
    return value


class Subject(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"email": "ada@example.com"}]})

    email: str | None = Field(default=None, max_length=320)
    user_id: str | None = Field(default=None, max_length=256)

    @field_validator("email", "user_id")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        return plain_text(value)

    @model_validator(mode="after")
    def _normalized(self) -> Subject:
        try:
            self.email, self.user_id = normalize_subject(self.email, self.user_id)
        except InvalidInput as exc:
            raise ValueError(str(exc)) from None
        return self


class RequestCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"type": "access", "subject": {"email": "ada@example.com", "user_id": "user-42"}},
                {"type": "deletion", "subject": {"email": "ada@example.com"}},
            ]
        },
    )

    type: RequestType
    subject: Subject
    verified: bool = Field(
        default=False,
        description="You have checked the subject's identity: the request runs at once. Otherwise a "
        "request with an email waits for the subject to follow the link sent to it.",
    )
    regulation: Regulation | None = Field(
        default=None, description="gdpr, ccpa or other; it sets the deadline (default: the configured one)"
    )


class Reason(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "the request covers six systems"}]}
    )

    reason: str = Field(min_length=1, max_length=2000, description="told to the person")

    @field_validator("reason")
    @classmethod
    def _text(cls, value: str) -> str | None:
        if "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value):
            raise ValueError("must be text")
        return value


class PrivacyRequestCreate(BaseModel):
    """A person's own request, from a company's own form (the same rules as /privacy)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"type": "access", "email": "ada@example.com", "location": "eu"}],
        },
    )

    type: RequestType
    email: str = Field(min_length=1, max_length=320)
    location: Location = Field(description="eu (EU, EEA, UK: GDPR), california (CCPA), elsewhere")
    user_id: str | None = Field(default=None, max_length=256)
    website: str | None = Field(
        default=None, max_length=500, description="leave out: a form's hidden field that only robots fill in"
    )

    @field_validator("email", "user_id")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        return plain_text(value)


class PrivacyAnswer(BaseModel):
    """The same answer whatever the email: nothing says whether any system knows it."""

    status: Literal["check_email"] = "check_email"
    message: str


class SubjectOut(BaseModel):
    email: str | None
    user_id: str | None


class IntegrationOut(BaseModel):
    connection: str
    status: str
    detail: str | None
    records: list[dict[str, Any]] | None
    error: str | None
    phase: str
    overdue: bool
    submitted_at: str | None
    checks: int
    last_checked_at: str | None
    completed_at: str | None


class RequestOut(BaseModel):
    """A request as ``rightly request show --json`` prints it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "req_0a1b2c3d4e5f60718293",
                    "type": "access",
                    "status": "complete",
                    "subject": {"email": "ada@example.com", "user_id": None},
                    "regulation": "gdpr",
                    "origin": "staff",
                    "created_at": "2026-01-01T00:00:00Z",
                    "updated_at": "2026-01-01T00:00:02Z",
                    "received_at": "2026-01-01T00:00:00Z",
                    "due_at": "2026-02-01T00:00:00Z",
                    "completed_at": "2026-01-01T00:00:02Z",
                    "verified_at": "2026-01-01T00:00:00Z",
                    "verified_by": "intake@example.com",
                    "extended_at": None,
                    "extension_reason": None,
                    "decided_by": None,
                    "denial_reason": None,
                    "integrations": [
                        {
                            "connection": "clevertap-prod",
                            "status": "complete",
                            "detail": "1 record found",
                            "records": [{"identity": "user-42", "email": "ada@example.com"}],
                            "error": None,
                            "phase": "done",
                            "overdue": False,
                            "submitted_at": None,
                            "checks": 0,
                            "last_checked_at": None,
                            "completed_at": "2026-01-01T00:00:02Z",
                        }
                    ],
                }
            ]
        }
    )

    id: str
    type: str
    status: str
    subject: SubjectOut
    regulation: str = Field(description="gdpr, ccpa or other: it sets due_at")
    origin: str = Field(description="staff (made in Rightly) or public (the privacy center)")
    created_at: str | None
    updated_at: str | None
    received_at: str | None = Field(description="when the legal clock started (null until verified)")
    due_at: str | None = Field(description="the legal deadline (null until received)")
    completed_at: str | None
    verified_at: str | None
    verified_by: str | None = Field(description='"email link", or who vouched for the identity')
    extended_at: str | None
    extension_reason: str | None
    decided_by: str | None = Field(description="who approved or denied it (the review gate)")
    denial_reason: str | None
    integrations: list[IntegrationOut]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class ResultRecord(BaseModel):
    connection: str
    record: dict[str, Any]


class Results(BaseModel):
    request_id: str
    status: str
    records: list[ResultRecord]


class VendorCall(BaseModel):
    method: str | None
    endpoint: str | None
    status_code: int | None
    duration_ms: float | None


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "a17",
                    "at": "2026-01-01T00:00:00Z",
                    "actor_type": "token",
                    "actor": "intake@example.com",
                    "action": "request.submit",
                    "target": "request:req_0a1b2c3d4e5f60718293",
                    "outcome": "ok",
                    "message": None,
                    "detail": {"credential": "tok_1a2b3c", "type": "access"},
                    "vendor_call": None,
                }
            ]
        }
    )

    id: str
    at: str | None
    actor_type: str
    actor: str
    action: str
    target: str | None
    outcome: str
    message: str | None
    detail: dict[str, Any] | None
    vendor_call: VendorCall | None


class UserCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"email": "privacy@example.com", "role": "request_manager"}]},
    )

    email: str = Field(min_length=3, max_length=320)
    role: Role
    password: SecretStr | None = Field(default=None, min_length=12, max_length=1024)

    @field_validator("email")
    @classmethod
    def _text(cls, value: str) -> str | None:
        return plain_text(value)


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"role": "viewer"}]})

    role: Role | None = None
    disabled: bool | None = None


class UserOut(BaseModel):
    id: str
    email: str
    role: str
    disabled: bool
    has_password: bool
    created_at: str | None


class TokenCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"user": "intake@example.com", "name": "intake form", "expires_in_days": 90}]
        },
    )

    user: str = Field(min_length=1, max_length=320, description="The user's email or id")
    name: str | None = Field(default=None, max_length=100)
    expires_in_days: int | None = Field(
        default=None,
        ge=1,
        le=3650,
        description="The token stops working this many days from now (default: never)",
    )

    @field_validator("user", "name")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        return plain_text(value)


class TokenOut(BaseModel):
    id: str
    name: str
    user: str
    created_at: str | None
    last_used_at: str | None
    revoked_at: str | None
    expires_at: str | None = Field(description="When the token stops working (null: never)")
    expired: bool = False


class TokenCreated(TokenOut):
    token: str = Field(description="The secret: shown this once, never again")


class Login(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"email": "admin@example.com", "password": "a long passphrase"}]},
    )

    email: str = Field(min_length=1, max_length=320)
    password: SecretStr = Field(min_length=1, max_length=1024)

    @field_validator("email")
    @classmethod
    def _text(cls, value: str) -> str | None:
        return plain_text(value)


class Me(BaseModel):
    id: str
    email: str
    role: str
    via: str
    permissions: list[str]


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    detail: str | None = None
    worker: dict[str, Any] | None = None
