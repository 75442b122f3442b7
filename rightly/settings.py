"""Configuration from the environment (RIGHTLY_*), with the embedded defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_home() -> Path:
    return Path.home() / ".local" / "share" / "rightly"


class Settings(BaseSettings):
    """Everything Rightly reads from its environment.

    With nothing set, Rightly runs embedded: SQLite in ``$RIGHTLY_HOME`` and an in-process budget.
    Scale-out sets ``RIGHTLY_DATABASE_URL`` (PostgreSQL) and ``RIGHTLY_REDIS_URL``.
    """

    model_config = SettingsConfigDict(env_prefix="RIGHTLY_", extra="ignore", allow_inf_nan=False)

    home: Path = Field(default_factory=default_home)
    database_url: str | None = None
    database_schema: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
    redis_url: str | None = None
    # A Fernet key (rightly secrets generate-key), or a passphrase stretched with scrypt.
    secret_key: str | None = Field(default=None, repr=False, min_length=1, max_length=1024)
    # The key before the current one, while ``rightly secrets rotate`` moves every secret over.
    previous_secret_key: str | None = Field(default=None, repr=False, min_length=1, max_length=1024)
    # Every number is bounded: nonsense (a timeout of 1e-300, a lease of a year) is refused at start.
    http_timeout: float = Field(default=20.0, ge=0.1, le=300.0)
    worker_concurrency: int = Field(default=64, ge=1, le=1024)
    lease_seconds: float = Field(default=120.0, ge=1.0, le=86400.0)
    deletion_batch_window: float = Field(default=0.5, ge=0.0, le=60.0)
    session_secret: str | None = Field(default=None, repr=False)
    # Connections may name an API host other than their vendor's own (the emulator, a reverse
    # proxy). Off by default: a stored secret is only ever sent to the vendor.
    allow_custom_base_urls: bool = False
    # Proofs of deletion: the Ed25519 signing key (PEM, or 32 bytes in base64/hex); default: a key
    # file in the home (rightly.store.signing).
    proof_signing_key: str | None = Field(default=None, repr=False)
    # Retention (rightly.services.retention): access results are deleted this many days after the
    # request finished; the personal data of finished requests is replaced by keyed hashes after this.
    results_retention_days: float = Field(default=30.0, ge=0)
    personal_data_retention_days: float = Field(default=730.0, ge=0)
    # Webhooks: an endpoint that has failed every delivery for this many days is disabled.
    webhook_disable_after_days: float = Field(default=5.0, gt=0)

    # The privacy center (the data subject's side): see README "Privacy center and email".
    # Where people reach this Rightly: the links in emails start with it.
    public_url: str = Field(default="http://127.0.0.1:8000", pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    organization: str | None = Field(default=None, max_length=200)  # named in pages and emails
    # smtp://[user:password@]host:port (STARTTLS when offered), smtps://... (implicit TLS). Unset:
    # messages are kept in the outbox (rightly outbox list, /outbox) instead of sent.
    smtp_url: str | None = Field(default=None, repr=False)
    smtp_timeout: float = 30.0
    mail_from: str = "Rightly <privacy@localhost>"
    templates: Path | None = None  # a folder whose mail templates replace the built-in ones
    default_regulation: Literal["gdpr", "ccpa", "other"] = "gdpr"
    other_deadline_days: int = Field(default=30, ge=1, le=365)
    other_extension_days: int = Field(default=30, ge=0, le=365)
    review_requests: bool = False  # verified public requests wait for a request manager
    # Public submissions: at most so many per client address, and per email, within the window.
    privacy_window: float = Field(default=3600.0, gt=0, le=2 * 86400)
    privacy_per_address: int = Field(default=10, ge=1)
    privacy_per_email: int = Field(default=3, ge=1)
    privacy_cors_origins: str = ""  # comma-separated origins allowed to POST /api/v1/privacy/requests

    def resolved_database_url(self) -> str:
        if self.database_url:
            return normalize_database_url(self.database_url)
        return f"sqlite+aiosqlite:///{self.home / 'rightly.db'}"

    @property
    def cors_origins(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.privacy_cors_origins.split(",") if o.strip()]

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url().startswith("sqlite")


def normalize_database_url(url: str) -> str:
    """Accept plain ``postgresql://`` / ``sqlite:///`` URLs and pick the asyncio drivers."""
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite:///", "sqlite+aiosqlite:///"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


def describe_error(exc: ValidationError) -> str:
    """A configuration error in the words of the environment: ``RIGHTLY_HTTP_TIMEOUT: ...``."""
    parts = []
    for error in exc.errors():
        name = "RIGHTLY_" + "_".join(str(p) for p in error["loc"]).upper()
        parts.append(f"{name}: {str(error['msg']).removeprefix('Value error, ')}")
    return "bad configuration: " + "; ".join(parts)
