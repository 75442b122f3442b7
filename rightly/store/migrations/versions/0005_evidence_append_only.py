"""evidence is append-only, as the audit trail is; on PostgreSQL neither table can be truncated

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_APPEND_ONLY = ("audit_entries", "evidence")


def upgrade() -> None:
    """The database itself refuses to change or remove evidence rows, whoever asks. On PostgreSQL a
    statement-level trigger also refuses TRUNCATE (row triggers do not fire for it) of both tables;
    SQLite has no TRUNCATE (its DELETE without WHERE fires the row triggers)."""
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER evidence_no_{verb.lower()} BEFORE {verb} ON evidence "
                "BEGIN SELECT RAISE(ABORT, 'evidence is append-only'); END"
            )
        return
    op.execute(
        "CREATE FUNCTION evidence_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'evidence is append-only'; END $$"
    )
    op.execute(
        "CREATE TRIGGER evidence_append_only BEFORE UPDATE OR DELETE ON evidence "
        "FOR EACH ROW EXECUTE FUNCTION evidence_append_only()"
    )
    op.execute(
        "CREATE FUNCTION refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION '% is append-only: it cannot be truncated', TG_TABLE_NAME; END $$"
    )
    for table in _APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS evidence_no_{verb}")
        return
    for table in _APPEND_ONLY:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    op.execute("DROP FUNCTION IF EXISTS refuse_truncate()")
    op.execute("DROP TRIGGER IF EXISTS evidence_append_only ON evidence")
    op.execute("DROP FUNCTION IF EXISTS evidence_append_only()")
