"""the connector seam: a connection's vendor settings in one JSON column, its secret in another;
tasks keep their connector's state; evidence records the host apart from the path

Revision ID: 0004
Revises: 0003

Existing CleverTap connections keep working: their project, region, deletion behaviour, identity
rule, verification interval, base URL and time zone move into ``connections.settings``; the
encrypted passcode keeps its bytes under the name ``secret_encrypted``. Task ``targets`` become
``state``. Evidence endpoints recorded as "GET /path?query" become "/path?query" with the method
kept apart, and gain the host the connection sent them to.

Columns are dropped and renamed with plain ALTER TABLE (SQLite 3.35+ and PostgreSQL alike): a
batch rebuild of ``connections`` would drop a table that tasks still reference.
"""

import json
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SETTINGS = (
    "project_id",
    "region",
    "deletion_behavior",
    "email_is_identity",
    "verify_interval",
    "api_base_url",
    "timezone",
)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def upgrade() -> None:
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    op.add_column("connections", sa.Column("settings", sa.JSON(), nullable=True))
    connections = bind.execute(sa.text(f"SELECT id, {', '.join(SETTINGS)} FROM connections")).mappings()
    hosts: dict[str, str] = {}
    for row in list(connections):
        settings: dict[str, Any] = {key: row[key] for key in SETTINGS}
        settings["email_is_identity"] = bool(settings["email_is_identity"])
        bind.execute(
            sa.text("UPDATE connections SET settings = :s WHERE id = :id"),
            {"s": json.dumps(settings), "id": row["id"]},
        )
        base = row["api_base_url"] or f"https://{row['region']}.api.clevertap.com"
        hosts[row["id"]] = _origin(base)
    for column in SETTINGS:
        op.execute(f"ALTER TABLE connections DROP COLUMN {column}")
    op.execute("ALTER TABLE connections RENAME COLUMN passcode_encrypted TO secret_encrypted")
    if pg:
        op.execute("ALTER TABLE connections ALTER COLUMN settings SET NOT NULL")

    op.execute("ALTER TABLE tasks RENAME COLUMN targets TO state")

    op.add_column("evidence", sa.Column("host", sa.Text(), nullable=True))
    if pg:
        op.execute("ALTER TABLE evidence ALTER COLUMN endpoint TYPE TEXT")
        op.execute("ALTER TABLE evidence ALTER COLUMN outcome TYPE TEXT")
    rows = bind.execute(
        sa.text(
            "SELECT e.id, e.method, e.endpoint, t.connection_id FROM evidence e "
            "JOIN tasks t ON t.id = e.task_id WHERE e.endpoint IS NOT NULL"
        )
    ).mappings()
    for row in list(rows):
        endpoint = row["endpoint"]
        method = row["method"]
        if method and endpoint.startswith(f"{method} "):
            endpoint = endpoint[len(method) + 1 :]
        bind.execute(
            sa.text("UPDATE evidence SET endpoint = :e, host = :h WHERE id = :id"),
            {"e": endpoint, "h": hosts.get(row["connection_id"]), "id": row["id"]},
        )


def downgrade() -> None:
    raise NotImplementedError("0004 is not reversible: restore the database from a backup instead")
