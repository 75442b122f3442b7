"""audit entries and evidence chained by hashes (and redactable by retention only); proofs of
deletion and the keys that signed them; webhook endpoints and their delivery attempts; retention
marks on requests

Revision ID: 0008
Revises: 0007

Rows written before this revision are sealed into their chain by the first append after it
(``rightly.store.chain``), in the order they were written: sealing needs the instance's key, which
migrations do not have. The append-only triggers now allow exactly two updates: that sealing, once,
of a row not yet in a chain, and retention's redaction, which may change only the redactable columns
and must leave the row's place in the chain as it is.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# table -> (columns that never change, columns retention may redact)
_FIXED = {
    "evidence": (
        ("id", "task_id", "at", "kind", "method", "host", "status_code", "duration_ms"),
        ("endpoint", "outcome", "data"),
    ),
    "audit_entries": (
        ("id", "at", "actor_type", "action", "target", "outcome"),
        ("actor", "message", "detail"),
    ),
}
_MESSAGE = {"evidence": "evidence is append-only", "audit_entries": "audit entries are append-only"}


def _allowed(table: str, same: str, text: str) -> str:
    """The SQL condition under which an UPDATE of ``table`` is allowed. ``same`` formats a null-safe
    equality of NEW.x and OLD.x; ``text`` casts a JSON column for comparing."""
    fixed, redactable = _FIXED[table]
    keep = " AND ".join(same.format(c=c) for c in fixed)
    chained = " AND ".join(same.format(c=c) for c in ("seq", "prev_hash", "hash"))
    content = " AND ".join(
        same.format(c=text.format(c=c) if c in ("data", "detail") else c) for c in redactable
    )
    redaction = f"NEW.redacted IS NOT NULL AND OLD.seq IS NOT NULL AND {chained}"
    sealing = f"OLD.seq IS NULL AND NEW.seq IS NOT NULL AND OLD.redacted IS NULL AND NEW.redacted IS NULL AND {content}"
    return f"{keep} AND (({redaction}) OR ({sealing}))"


def _sqlite_triggers(table: str, allow_updates: bool) -> None:
    prefix = "evidence" if table == "evidence" else "audit_entries"
    op.execute(f"DROP TRIGGER IF EXISTS {prefix}_no_update")
    when = ""
    if allow_updates:
        when = "WHEN NOT (" + _allowed(table, "NEW.{c} IS OLD.{c}", "{c}") + ") "
    op.execute(
        f"CREATE TRIGGER {prefix}_no_update BEFORE UPDATE ON {table} {when}"
        f"BEGIN SELECT RAISE(ABORT, '{_MESSAGE[table]}'); END"
    )


def _pg_function(table: str, allow_updates: bool) -> None:
    name = "evidence_append_only" if table == "evidence" else "audit_entries_append_only"
    check = ""
    if allow_updates:
        condition = _allowed(table, "NEW.{c} IS NOT DISTINCT FROM OLD.{c}", "{c}::text")
        check = f"IF TG_OP = 'UPDATE' THEN IF {condition} THEN RETURN NEW; END IF; END IF; "
    op.execute(
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN {check}RAISE EXCEPTION '{_MESSAGE[table]}'; END $$"
    )


def upgrade() -> None:
    op.add_column("requests", sa.Column("results_deleted_at", sa.Float(), nullable=True))
    op.add_column("requests", sa.Column("redacted_at", sa.Float(), nullable=True))
    op.create_index("ix_requests_redacted_at", "requests", ["redacted_at"])
    for table in ("audit_entries", "evidence"):
        op.add_column(table, sa.Column("seq", sa.Integer(), nullable=True))
        op.add_column(table, sa.Column("prev_hash", sa.String(length=64), nullable=True))
        op.add_column(table, sa.Column("hash", sa.String(length=64), nullable=True))
        op.add_column(table, sa.Column("redacted", sa.JSON(), nullable=True))
        op.create_index(f"ix_{table}_seq", table, ["seq"], unique=True)
    op.create_table(
        "chain_heads",
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "proofs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("request_id", sa.String(length=40), nullable=False),
        sa.Column("issued_at", sa.Float(), nullable=False),
        sa.Column("basis_at", sa.Float(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_proofs_request_id", "proofs", ["request_id"])
    op.create_table(
        "proof_keys",
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("first_used_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key_id"),
    )
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=True),
        sa.Column("secret_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("failing_since", sa.Float(), nullable=True),
        sa.Column("last_success_at", sa.Float(), nullable=True),
        sa.Column("disabled_at", sa.Float(), nullable=True),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("removed_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("endpoint_id", sa.String(length=40), nullable=False),
        sa.Column("message_id", sa.String(length=60), nullable=False),
        sa.Column("event", sa.String(length=50), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(["endpoint_id"], ["webhook_endpoints.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_webhook_attempts_endpoint", "webhook_attempts", ["endpoint_id", "at"])
    _triggers(allow_updates=True)


def _triggers(allow_updates: bool) -> None:
    for table in ("evidence", "audit_entries"):
        if op.get_bind().dialect.name == "sqlite":
            _sqlite_triggers(table, allow_updates)
        else:
            _pg_function(table, allow_updates)


def downgrade() -> None:
    _triggers(allow_updates=False)
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_endpoints")
    op.drop_table("proof_keys")
    op.drop_table("proofs")
    op.drop_table("chain_heads")
    for table in ("audit_entries", "evidence"):
        op.drop_index(f"ix_{table}_seq", table_name=table)
        for column in ("redacted", "hash", "prev_hash", "seq"):
            op.drop_column(table, column)
    op.drop_index("ix_requests_redacted_at", table_name="requests")
    op.drop_column("requests", "redacted_at")
    op.drop_column("requests", "results_deleted_at")
