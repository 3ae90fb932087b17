"""Proximity settings per workstation × key, and RFID tags mapped to keys (shared ``Base``).

Keys are named by their serial (a string), not by a foreign key: the key inventory is the
vault's, and a setting or a tag may be made before the key is imported.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.store.sql.models import ID, NAME, Base, UtcDateTime

SERIAL = String(64)


class KeyProximityRow(Base):
    """Overrides the workstation's own proximity settings for one key at that workstation."""

    __tablename__ = "workstation_key_proximity"
    workstation_id: Mapped[str] = mapped_column(ID, primary_key=True)
    key_serial: Mapped[str] = mapped_column(SERIAL, primary_key=True)
    lock_proximity: Mapped[int] = mapped_column(Integer)
    unlock_proximity: Mapped[int] = mapped_column(Integer)
    lock_timeout: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    updated_by: Mapped[str] = mapped_column(NAME)


class RfidTagRow(Base):
    """One RFID tag UID (lower-case hex) and the key it unlocks as."""

    __tablename__ = "rfid_tags"
    tag: Mapped[str] = mapped_column(String(20), primary_key=True)
    key_serial: Mapped[str] = mapped_column(SERIAL, index=True)
    assigned_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    assigned_by: Mapped[str] = mapped_column(NAME)
