"""Workstations: registry, events, sessions and the emergency alarm (see idp/workstations/).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _index(table: str, *columns: str) -> None:
    op.create_index(op.f(f"ix_{table}_{columns[0]}"), table, list(columns), unique=False)


def upgrade() -> None:
    alarm = op.create_table(
        "workstation_alarm",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("raised_at", sa.DateTime(), nullable=True),
        sa.Column("raised_by", sa.String(length=255), nullable=True),
        sa.Column("lifted_at", sa.DateTime(), nullable=True),
        sa.Column("lifted_by", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workstation_alarm")),
    )
    # The alarm row exists from the start: raising and lifting lock and update it.
    op.bulk_insert(alarm, [{"id": 1, "active": False}])
    op.create_table(
        "workstation_events",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("workstation_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("account", sa.String(length=255), nullable=False),
        sa.Column("employee_id", sa.String(length=64), nullable=True),
        sa.Column("unlocked_by", sa.String(length=32), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("clock_skew", sa.Boolean(), nullable=False),
        sa.Column("during_alarm", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workstation_events")),
    )
    _index("workstation_events", "at")
    _index("workstation_events", "employee_id")
    op.create_index(
        "ix_workstation_events_workstation_at",
        "workstation_events",
        ["workstation_id", "at"],
        unique=False,
    )
    op.create_table(
        "workstation_sessions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("workstation_id", sa.String(length=64), nullable=False),
        sa.Column("employee_id", sa.String(length=64), nullable=True),
        sa.Column("account", sa.String(length=255), nullable=False),
        sa.Column("unlocked_by", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("started_day", sa.String(length=10), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("end_reason", sa.String(length=32), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workstation_sessions")),
    )
    for column in ("employee_id", "started_at", "started_day", "workstation_id"):
        _index("workstation_sessions", column)
    op.create_table(
        "workstations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("os", sa.String(length=128), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("client_version", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("lock_proximity", sa.Integer(), nullable=False),
        sa.Column("unlock_proximity", sa.Integer(), nullable=False),
        sa.Column("lock_timeout", sa.Integer(), nullable=False),
        sa.Column("registered_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=True),
        sa.Column("approved_by", sa.String(length=255), nullable=True),
        sa.Column("approved_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workstations")),
    )
    _index("workstations", "name")
    _index("workstations", "status")


def downgrade() -> None:
    op.drop_table("workstations")
    op.drop_table("workstation_sessions")
    op.drop_table("workstation_events")
    op.drop_table("workstation_alarm")
