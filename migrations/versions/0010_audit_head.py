"""The audit trail's head: its last link in a row of its own, moved by every append (on
PostgreSQL one statement appends and moves it, its row lock serialising appends) and
compared with the last row by `audit verify`. Filled from the trail as it stands.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.execute(
        "INSERT INTO audit_head (id, seq, prev_hash, hash) "
        "SELECT 1, seq, prev_hash, hash FROM audit_log "
        "WHERE seq = (SELECT max(seq) FROM audit_log)"
    )


def downgrade() -> None:
    op.drop_table("audit_head")
