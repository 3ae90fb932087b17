"""Directory sync: links to directory objects, each source's high-water mark, bind secrets.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "directory_links",
        sa.Column("employee_id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("external_key", sa.String(length=64), nullable=False),
        sa.Column("dn", sa.Text(), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("seen_run", sa.String(length=32), nullable=False),
        sa.Column("directory_enabled", sa.Boolean(), nullable=False),
        sa.Column("owned_fields", sa.JSON(), nullable=False),
        sa.Column("owned_groups", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["employees.id"],
            name=op.f("fk_directory_links_employee_id_employees"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("employee_id", name=op.f("pk_directory_links")),
        sa.UniqueConstraint("source", "external_key", name="uq_directory_links_key"),
    )
    op.create_index(op.f("ix_directory_links_source"), "directory_links", ["source"])
    op.create_table(
        "directory_sync_state",
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("invocation_id", sa.String(length=64), nullable=True),
        sa.Column("highest_usn", sa.BigInteger(), nullable=True),
        sa.Column("delta_link", sa.Text(), nullable=True),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("run_mode", sa.String(length=16), nullable=True),
        sa.Column("resume_link", sa.Text(), nullable=True),
        sa.Column("last_success_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_directory_sync_state")),
    )
    op.create_table(
        "directory_secrets",
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_directory_secrets")),
    )


def downgrade() -> None:
    # Dropping a table drops its indexes (MySQL refuses to drop one a foreign key needs).
    op.drop_table("directory_secrets")
    op.drop_table("directory_sync_state")
    op.drop_table("directory_links")
