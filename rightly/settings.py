"""Configuration from the environment (RIGHTLY_*), with the embedded defaults."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_home() -> Path:
    return Path.home() / ".local" / "share" / "rightly"


class Settings(BaseSettings):
    """Everything Rightly reads from its environment.

    With nothing set, Rightly runs embedded: SQLite in ``$RIGHTLY_HOME`` and an in-process budget.
    Scale-out sets ``RIGHTLY_DATABASE_URL`` (PostgreSQL) and ``RIGHTLY_REDIS_URL``.
    """

    model_config = SettingsConfigDict(env_prefix="RIGHTLY_", extra="ignore")

    home: Path = Field(default_factory=default_home)
    database_url: str | None = None
    database_schema: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
    redis_url: str | None = None
    secret_key: str | None = Field(default=None, repr=False)
    http_timeout: float = 20.0
    worker_concurrency: int = 64
    lease_seconds: float = 120.0
    deletion_batch_window: float = 0.5
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

    def resolved_database_url(self) -> str:
        if self.database_url:
            return normalize_database_url(self.database_url)
        return f"sqlite+aiosqlite:///{self.home / 'rightly.db'}"

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
