"""Revoked offline-code grants, kept for workstations that were offline at the time.

(idp/workstations/offline_revocations.py)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "offline_revocations",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_offline_revocations")),
    )


def downgrade() -> None:
    op.drop_table("offline_revocations")
