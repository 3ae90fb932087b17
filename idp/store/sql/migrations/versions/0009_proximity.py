"""Proximity settings per workstation × key, and RFID tags (see idp/workstations/proximity*.py).

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workstation_key_proximity",
        sa.Column("workstation_id", sa.String(length=64), nullable=False),
        sa.Column("key_serial", sa.String(length=64), nullable=False),
        sa.Column("lock_proximity", sa.Integer(), nullable=False),
        sa.Column("unlock_proximity", sa.Integer(), nullable=False),
        sa.Column("lock_timeout", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint(
            "workstation_id", "key_serial", name=op.f("pk_workstation_key_proximity")
        ),
    )
    op.create_table(
        "rfid_tags",
        sa.Column("tag", sa.String(length=20), nullable=False),
        sa.Column("key_serial", sa.String(length=64), nullable=False),
        sa.Column("assigned_at", sa.DateTime(), nullable=False),
        sa.Column("assigned_by", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("tag", name=op.f("pk_rfid_tags")),
    )
    op.create_index(op.f("ix_rfid_tags_key_serial"), "rfid_tags", ["key_serial"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_rfid_tags_key_serial"), table_name="rfid_tags")
    op.drop_table("rfid_tags")
    op.drop_table("workstation_key_proximity")
