"""Governance: sponsorships (buyer <-> supplier, cost split), buyer part numbers, sharing
agreements (views, purposes, parts, validity) and the hash-chained audit trail of reads.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=True),
        sa.Column("purpose", sa.String(length=32), nullable=True),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("view", sa.String(length=64), nullable=True),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("suppliers", sa.JSON(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_log_hash")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_org_id"), ["org_id"], unique=False)

    op.create_table(
        "audit_supplier",
        sa.Column("supplier_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["seq"], ["audit_log.seq"], name=op.f("fk_audit_supplier_seq_audit_log")
        ),
        sa.PrimaryKeyConstraint("supplier_id", "seq", name=op.f("pk_audit_supplier")),
    )
    op.create_table(
        "buyer_part",
        sa.Column("buyer_id", sa.String(length=64), nullable=False),
        sa.Column("buyer_part_number", sa.String(length=100), nullable=False),
        sa.Column("supplier_id", sa.String(length=64), nullable=False),
        sa.Column("part_number", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["buyer_id"], ["organisation.org_id"], name=op.f("fk_buyer_part_buyer_id_organisation")
        ),
        sa.PrimaryKeyConstraint("buyer_id", "buyer_part_number", name=op.f("pk_buyer_part")),
    )
    with op.batch_alter_table("buyer_part", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_buyer_part_supplier_id"), ["supplier_id"], unique=False
        )

    op.create_table(
        "sponsorship",
        sa.Column("sponsorship_id", sa.String(length=64), nullable=False),
        sa.Column("buyer_id", sa.String(length=64), nullable=False),
        sa.Column("supplier_id", sa.String(length=64), nullable=False),
        sa.Column("project", sa.String(length=200), nullable=False),
        sa.Column("go_live", sa.Date(), nullable=True),
        sa.Column("government_share", sa.Integer(), nullable=False),
        sa.Column("buyer_share", sa.Integer(), nullable=False),
        sa.Column("sme_share", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "government_share + buyer_share + sme_share = 100",
            name=op.f("ck_sponsorship_shares_sum_to_100"),
        ),
        sa.CheckConstraint(
            "government_share >= 0 AND buyer_share >= 0 AND sme_share >= 0",
            name=op.f("ck_sponsorship_shares_not_negative"),
        ),
        sa.CheckConstraint("sme_share <= 40", name=op.f("ck_sponsorship_sme_share_at_most_40")),
        sa.ForeignKeyConstraint(
            ["buyer_id"], ["organisation.org_id"], name=op.f("fk_sponsorship_buyer_id_organisation")
        ),
        sa.ForeignKeyConstraint(
            ["supplier_id"],
            ["organisation.org_id"],
            name=op.f("fk_sponsorship_supplier_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("sponsorship_id", name=op.f("pk_sponsorship")),
        sa.UniqueConstraint("buyer_id", "supplier_id", "project", name="one_per_project"),
    )
    with op.batch_alter_table("sponsorship", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sponsorship_buyer_id"), ["buyer_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_sponsorship_supplier_id"), ["supplier_id"], unique=False
        )

    op.create_table(
        "sharing_agreement",
        sa.Column("agreement_id", sa.String(length=64), nullable=False),
        sa.Column("supplier_id", sa.String(length=64), nullable=False),
        sa.Column("buyer_id", sa.String(length=64), nullable=False),
        sa.Column("sponsorship_id", sa.String(length=64), nullable=True),
        sa.Column("part_scope", sa.String(length=16), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to >= valid_from",
            name=op.f("ck_sharing_agreement_valid_range"),
        ),
        sa.ForeignKeyConstraint(
            ["buyer_id"],
            ["organisation.org_id"],
            name=op.f("fk_sharing_agreement_buyer_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["sponsorship_id"],
            ["sponsorship.sponsorship_id"],
            name=op.f("fk_sharing_agreement_sponsorship_id_sponsorship"),
        ),
        sa.ForeignKeyConstraint(
            ["supplier_id"],
            ["organisation.org_id"],
            name=op.f("fk_sharing_agreement_supplier_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("agreement_id", name=op.f("pk_sharing_agreement")),
    )
    with op.batch_alter_table("sharing_agreement", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sharing_agreement_buyer_id"), ["buyer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_sharing_agreement_supplier_id"), ["supplier_id"], unique=False
        )

    op.create_table(
        "agreement_part",
        sa.Column("agreement_id", sa.String(length=64), nullable=False),
        sa.Column("part_number", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["sharing_agreement.agreement_id"],
            name=op.f("fk_agreement_part_agreement_id_sharing_agreement"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agreement_id", "part_number", name=op.f("pk_agreement_part")),
    )
    op.create_table(
        "agreement_purpose",
        sa.Column("agreement_id", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["sharing_agreement.agreement_id"],
            name=op.f("fk_agreement_purpose_agreement_id_sharing_agreement"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agreement_id", "purpose", name=op.f("pk_agreement_purpose")),
    )
    op.create_table(
        "agreement_view",
        sa.Column("agreement_id", sa.String(length=64), nullable=False),
        sa.Column("view", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["sharing_agreement.agreement_id"],
            name=op.f("fk_agreement_view_agreement_id_sharing_agreement"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agreement_id", "view", name=op.f("pk_agreement_view")),
    )


def downgrade() -> None:
    op.drop_table("agreement_view")
    op.drop_table("agreement_purpose")
    op.drop_table("agreement_part")
    with op.batch_alter_table("sharing_agreement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sharing_agreement_supplier_id"))
        batch_op.drop_index(batch_op.f("ix_sharing_agreement_buyer_id"))

    op.drop_table("sharing_agreement")
    with op.batch_alter_table("sponsorship", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sponsorship_supplier_id"))
        batch_op.drop_index(batch_op.f("ix_sponsorship_buyer_id"))

    op.drop_table("sponsorship")
    with op.batch_alter_table("buyer_part", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_buyer_part_supplier_id"))

    op.drop_table("buyer_part")
    op.drop_table("audit_supplier")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_org_id"))

    op.drop_table("audit_log")
