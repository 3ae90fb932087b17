"""Wrapped data keys (see :mod:`idp.secrets`): the only key material the database holds."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from idp.secrets import WrappedDataKey
from idp.store.errors import DuplicateRecord, RecordNotFound
from idp.store.sql.database import Database
from idp.store.sql.models import SecretKeyRow
from idp.store.sql.repositories.common import conflicts_as, require_aware


class DuplicateDataKey(DuplicateRecord):
    pass


class DataKeyNotFound(RecordNotFound):
    pass


class SecretKeyRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, wrapped: WrappedDataKey, *, now: dt.datetime, active: bool = True) -> None:
        """Store a wrapped key; an active one makes the others inactive (rotation)."""
        require_aware(now, "now")
        with (
            conflicts_as(DuplicateDataKey, f"data key {wrapped.key_id}"),
            self._db.transaction(write=True) as s,
        ):
            if s.get(SecretKeyRow, wrapped.key_id) is not None:
                raise DuplicateDataKey(f"data key {wrapped.key_id} already stored")
            if active:
                s.execute(update(SecretKeyRow).values(active=False))
            s.add(
                SecretKeyRow(
                    key_id=wrapped.key_id,
                    kdf=wrapped.kdf.name,
                    wrapped=wrapped.blob,
                    created_at=now,
                    active=active,
                )
            )

    def get(self, key_id: str) -> WrappedDataKey | None:
        with self._db.transaction() as s:
            row = s.get(SecretKeyRow, key_id)
            return None if row is None else WrappedDataKey.from_bytes(bytes(row.wrapped))

    def active(self) -> WrappedDataKey | None:
        """The key new secrets are encrypted with (``None`` before the first start)."""
        query = select(SecretKeyRow).where(SecretKeyRow.active.is_(True))
        with self._db.transaction() as s:
            row = s.scalars(query).first()
            return None if row is None else WrappedDataKey.from_bytes(bytes(row.wrapped))

    def list(self) -> tuple[WrappedDataKey, ...]:
        """Every stored key, oldest first (old ones still decrypt old secrets)."""
        query = select(SecretKeyRow).order_by(SecretKeyRow.created_at, SecretKeyRow.key_id)
        with self._db.transaction() as s:
            return tuple(WrappedDataKey.from_bytes(bytes(r.wrapped)) for r in s.scalars(query))

    def replace(self, wrapped: WrappedDataKey) -> None:
        """Store the same key wrapped anew (after :func:`idp.secrets.rewrap`)."""
        with self._db.transaction(write=True) as s:
            row = s.get(SecretKeyRow, wrapped.key_id, with_for_update=True)
            if row is None:
                raise DataKeyNotFound(f"no data key {wrapped.key_id}")
            row.wrapped = wrapped.blob
            row.kdf = wrapped.kdf.name
