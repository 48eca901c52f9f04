"""Registry roles: each registry user has a role (read < write < admin).

Users made before roles could register and delete: `admin` (the user the registry
bootstraps) becomes an admin, every other user a writer (what `add-user` made them).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("registry_credential", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("role", sa.String(length=16), nullable=False, server_default="read")
        )
    credential = sa.table("registry_credential", sa.column("username"), sa.column("role"))
    op.execute(
        credential.update().values(
            role=sa.case((credential.c.username == "admin", "admin"), else_="write")
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("registry_credential", schema=None) as batch_op:
        batch_op.drop_column("role")
