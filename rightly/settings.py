"""Configuration from the environment (RIGHTLY_*), with the embedded defaults."""

from __future__ import annotations

from pathlib import Path

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


def describe_error(exc: ValidationError) -> str:
    """A configuration error in the words of the environment: ``RIGHTLY_HTTP_TIMEOUT: ...``."""
    parts = []
    for error in exc.errors():
        name = "RIGHTLY_" + "_".join(str(p) for p in error["loc"]).upper()
        parts.append(f"{name}: {str(error['msg']).removeprefix('Value error, ')}")
    return "bad configuration: " + "; ".join(parts)
