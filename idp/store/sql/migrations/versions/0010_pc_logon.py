"""PC login by phone: whether each authenticator app may unlock PCs (idp/workstations/pc_logon.py).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_pc_logon",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("changed_by", sa.String(length=255), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["authenticator_devices.device_id"],
            name=op.f("fk_device_pc_logon_device_id_authenticator_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_device_pc_logon")),
    )


def downgrade() -> None:
    op.drop_table("device_pc_logon")
