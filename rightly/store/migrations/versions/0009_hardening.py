"""rightly_meta: facts about this install (the salt its secret-key passphrase is stretched with);
numeric connection settings saved before they were bounded are brought into their bounds

Revision ID: 0009
Revises: 0008

A connection saved with a budget of ``rate: 1e-300`` or a verification interval of ``1e-9`` (both
were accepted once) would fail every task of that connection; its values are clamped into the
bounds the API now enforces (rate 0.01 to 1000 per second, 1 to 50 calls at once, a first check
0.1 s to 30 days after submission).
"""

import json
import math
import secrets

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

RATE = (0.01, 1000.0)
MAX_IN_FLIGHT = (1, 50)
VERIFY_INTERVAL = (0.1, 30 * 86400.0)


def _clamp(value: float, bounds: tuple[float, float], default: float) -> float:
    low, high = bounds
    if not isinstance(value, int | float) or math.isnan(value):
        return default
    return min(max(value, low), high)


def upgrade() -> None:
    op.create_table(
        "rightly_meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    bind = op.get_bind()
    bind.execute(
        sa.text("INSERT INTO rightly_meta (key, value) VALUES ('kdf_salt', :v)"), {"v": secrets.token_hex(16)}
    )
    rows = bind.execute(sa.text("SELECT id, rate, max_in_flight, settings FROM connections")).mappings()
    for row in list(rows):
        rate = _clamp(row["rate"], RATE, 3.0)
        flight = int(_clamp(row["max_in_flight"], MAX_IN_FLIGHT, 3))
        raw = row["settings"]
        settings = json.loads(raw) if isinstance(raw, str) else dict(raw or {})
        interval = settings.get("verify_interval")
        if interval is not None:
            settings["verify_interval"] = _clamp(interval, VERIFY_INTERVAL, None)  # type: ignore[arg-type]
        bind.execute(
            sa.text("UPDATE connections SET rate = :r, max_in_flight = :m, settings = :s WHERE id = :id"),
            {"r": rate, "m": flight, "s": json.dumps(settings), "id": row["id"]},
        )


def downgrade() -> None:
    op.drop_table("rightly_meta")
