"""Alembic environment: always run with a connection handed in by rightly.store.db."""

from alembic import context

from rightly.store import auth_models, privacy_models  # noqa: F401  (same metadata)
from rightly.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable from the alembic CLI
    raise RuntimeError("run migrations through rightly (Database.migrate), which provides the connection")

context.configure(
    connection=connection, target_metadata=Base.metadata, render_as_batch=connection.dialect.name == "sqlite"
)
with context.begin_transaction():
    context.run_migrations()
