"""What workstations keep in the relational database (tables on the shared ``Base``).

Events and sessions have no foreign key to employees or workstations: the trail outlives the
people and machines it mentions, as the audit does.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from idp.store.sql.models import ID, NAME, Base, UtcDateTime

EVENT_ID = String(36)
KIND = String(32)


class WorkstationRow(Base):
    __tablename__ = "workstations"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(NAME, index=True)
    domain: Mapped[str] = mapped_column(NAME)
    os: Mapped[str] = mapped_column(String(128))
    ip: Mapped[str] = mapped_column(String(64))
    client_version: Mapped[str] = mapped_column(String(64))
    public_key: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(KIND, index=True)
    lock_proximity: Mapped[int] = mapped_column(Integer)
    unlock_proximity: Mapped[int] = mapped_column(Integer)
    lock_timeout: Mapped[int] = mapped_column(Integer)
    registered_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    approved_by: Mapped[str | None] = mapped_column(NAME)
    approved_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class WorkstationEventRow(Base):
    __tablename__ = "workstation_events"
    __table_args__ = (Index("ix_workstation_events_workstation_at", "workstation_id", "at"),)
    id: Mapped[str] = mapped_column(EVENT_ID, primary_key=True)
    workstation_id: Mapped[str] = mapped_column(ID)
    type: Mapped[str] = mapped_column(KIND)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    account: Mapped[str] = mapped_column(NAME)
    employee_id: Mapped[str | None] = mapped_column(ID, index=True)
    unlocked_by: Mapped[str | None] = mapped_column(KIND)
    details: Mapped[dict[str, str]] = mapped_column(JSON)
    clock_skew: Mapped[bool] = mapped_column(Boolean)
    during_alarm: Mapped[bool] = mapped_column(Boolean)


class WorkstationSessionRow(Base):
    __tablename__ = "workstation_sessions"
    id: Mapped[str] = mapped_column(EVENT_ID, primary_key=True)
    workstation_id: Mapped[str] = mapped_column(ID, index=True)
    employee_id: Mapped[str | None] = mapped_column(ID, index=True)
    account: Mapped[str] = mapped_column(NAME)
    unlocked_by: Mapped[str] = mapped_column(KIND)
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    #: the UTC day the session started on (YYYY-MM-DD), grouped by the day summary
    started_day: Mapped[str] = mapped_column(String(10), index=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    end_reason: Mapped[str | None] = mapped_column(KIND)
    duration_seconds: Mapped[int | None] = mapped_column(Integer)


class WorkstationAlarmRow(Base):
    """One row (id 1): the emergency alarm, kept here so that it survives a restart."""

    __tablename__ = "workstation_alarm"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    active: Mapped[bool] = mapped_column(Boolean)
    raised_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    raised_by: Mapped[str | None] = mapped_column(NAME)
    lifted_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    lifted_by: Mapped[str | None] = mapped_column(NAME)
