"""the privacy center: request statuses before running (pending verification, pending review) and
after (denied, closed unverified), the regulation and the legal clock, links sent to people (only
their tokens' hashes), and messages (bodies encrypted)

Revision ID: 0007
Revises: 0006

Existing requests fall under the regulation "other" (their 30-day deadline stays as it was); their
clock started when they were made.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

REQUEST_COLUMNS = (
    sa.Column("regulation", sa.String(length=10), nullable=False, server_default="other"),
    sa.Column("origin", sa.String(length=10), nullable=False, server_default="staff"),
    sa.Column("received_at", sa.Float(), nullable=True),
    sa.Column("verified_at", sa.Float(), nullable=True),
    sa.Column("verified_by", sa.String(length=320), nullable=True),
    sa.Column("reminded_at", sa.Float(), nullable=True),
    sa.Column("extended_at", sa.Float(), nullable=True),
    sa.Column("extension_reason", sa.Text(), nullable=True),
    sa.Column("decided_at", sa.Float(), nullable=True),
    sa.Column("decided_by", sa.String(length=320), nullable=True),
    sa.Column("denial_reason", sa.Text(), nullable=True),
    sa.Column("overdue_at", sa.Float(), nullable=True),
)


def upgrade() -> None:
    for column in REQUEST_COLUMNS:
        op.add_column("requests", column)
    op.execute("UPDATE requests SET received_at = created_at")
    op.create_table(
        "links",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("request_id", sa.String(length=40), sa.ForeignKey("requests.id"), nullable=False),
        sa.Column("purpose", sa.String(length=10), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("used_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_links_request_id", "links", ["request_id"])
    op.create_table(
        "messages",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("request_id", sa.String(length=40), sa.ForeignKey("requests.id"), nullable=True),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("body_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("transport", sa.String(length=10), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("sent_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_index("ix_messages_request_id", "messages", ["request_id"])
    op.create_index("ix_messages_status", "messages", ["status"])
    op.create_index("ix_messages_created_at", "messages", ["created_at"])


def downgrade() -> None:
    op.drop_table("messages")
    op.drop_table("links")
    for column in reversed(REQUEST_COLUMNS):
        op.drop_column("requests", column.name)
