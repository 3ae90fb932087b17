"""Hardware vaults (Hideez Keys): keys, access profiles, accounts, templates, tasks
(see idp/vault/).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    profiles = op.create_table(
        "vault_profiles",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("requirements", sa.JSON(), nullable=False),
        sa.Column("pin_length", sa.Integer(), nullable=False),
        sa.Column("pin_expiry_seconds", sa.Integer(), nullable=False),
        sa.Column("pin_attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_profiles")),
        sa.UniqueConstraint("name", name=op.f("uq_vault_profiles_name")),
    )

    # The default access profile (DESIGN.md): button + master key for pairing, PIN 4 / 24 h / 10.
    op.bulk_insert(
        profiles,
        [
            {
                "id": "default",
                "name": "Default",
                "requirements": {
                    "pairing": {"button": True, "pin": False, "master_key": True},
                    "connection": {"button": False, "pin": False, "master_key": False},
                    "storage": {"button": False, "pin": False, "master_key": False},
                },
                "pin_length": 4,
                "pin_expiry_seconds": 86400,
                "pin_attempts": 10,
            }
        ],
    )
    op.create_table(
        "vault_shared_accounts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("login", sa.String(length=255), nullable=False),
        sa.Column("login_type", sa.String(length=32), nullable=False),
        sa.Column("urls", sa.JSON(), nullable=False),
        sa.Column("apps", sa.JSON(), nullable=False),
        sa.Column("password", sa.LargeBinary(), nullable=True),
        sa.Column("otp_secret", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_shared_accounts")),
    )
    op.create_table(
        "vault_templates",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("urls", sa.JSON(), nullable=False),
        sa.Column("apps", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_templates")),
        sa.UniqueConstraint("name", name=op.f("uq_vault_templates_name")),
    )
    op.create_table(
        "hardware_vaults",
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column("mac", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=255), nullable=False),
        sa.Column("firmware", sa.String(length=64), nullable=False),
        sa.Column("battery", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("employee_id", sa.String(length=64), nullable=True),
        sa.Column("profile_id", sa.String(length=64), nullable=False),
        sa.Column("master_key", sa.LargeBinary(), nullable=True),
        sa.Column("activation_code", sa.LargeBinary(), nullable=True),
        sa.Column("code_attempts_left", sa.Integer(), nullable=True),
        sa.Column("code_expires_at", sa.DateTime(), nullable=True),
        sa.Column("code_verified_at", sa.DateTime(), nullable=True),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
        sa.Column("status_changed_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=True),
        sa.Column("linked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["employee_id"], ["employees.id"], name=op.f("fk_hardware_vaults_employee_id_employees")
        ),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["vault_profiles.id"],
            name=op.f("fk_hardware_vaults_profile_id_vault_profiles"),
        ),
        sa.PrimaryKeyConstraint("serial", name=op.f("pk_hardware_vaults")),
        sa.UniqueConstraint("employee_id", name=op.f("uq_hardware_vaults_employee_id")),
        sa.UniqueConstraint("mac", name=op.f("uq_hardware_vaults_mac")),
    )
    op.create_index(
        op.f("ix_hardware_vaults_profile_id"), "hardware_vaults", ["profile_id"], unique=False
    )
    op.create_index(op.f("ix_hardware_vaults_status"), "hardware_vaults", ["status"], unique=False)
    op.create_table(
        "vault_accounts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("employee_id", sa.String(length=64), nullable=False),
        sa.Column("shared_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("login", sa.String(length=255), nullable=False),
        sa.Column("login_type", sa.String(length=32), nullable=False),
        sa.Column("urls", sa.JSON(), nullable=False),
        sa.Column("apps", sa.JSON(), nullable=False),
        sa.Column("password", sa.LargeBinary(), nullable=True),
        sa.Column("otp_secret", sa.LargeBinary(), nullable=True),
        sa.Column("skip_password", sa.Boolean(), nullable=False),
        sa.Column("primary", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["employees.id"],
            name=op.f("fk_vault_accounts_employee_id_employees"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shared_id"],
            ["vault_shared_accounts.id"],
            name=op.f("fk_vault_accounts_shared_id_vault_shared_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_accounts")),
    )
    op.create_index(
        "ix_vault_accounts_employee_deleted",
        "vault_accounts",
        ["employee_id", "deleted_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_vault_accounts_shared_id"), "vault_accounts", ["shared_id"], unique=False
    )
    op.create_table(
        "vault_tasks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["serial"],
            ["hardware_vaults.serial"],
            name=op.f("fk_vault_tasks_serial_hardware_vaults"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_tasks")),
    )
    op.create_index(
        "ix_vault_tasks_serial_order", "vault_tasks", ["serial", "priority", "id"], unique=False
    )


def downgrade() -> None:
    # Dropping a table drops its indexes; MySQL refuses to drop one a foreign key needs first.
    op.drop_table("vault_tasks")
    op.drop_table("vault_accounts")
    op.drop_table("hardware_vaults")
    op.drop_table("vault_templates")
    op.drop_table("vault_shared_accounts")
    op.drop_table("vault_profiles")
