"""SecretKeyRepository: wrapped data keys survive the round trip and rotate."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from idp.secrets import SecretBox, new_data_key, rewrap, secret_aad
from idp.store.sql import Database
from idp.store.sql.repositories import DataKeyNotFound, DuplicateDataKey, SecretKeyRepository

from .helpers import NOW

MASTER = os.urandom(32)


def test_store_and_unlock(db: Database) -> None:
    repo = SecretKeyRepository(db)
    assert repo.active() is None
    wrapped = new_data_key(master_key=MASTER)
    repo.add(wrapped, now=NOW)
    assert repo.get(wrapped.key_id) == wrapped
    active = repo.active()
    assert active == wrapped
    box = SecretBox()
    box.unlock(active, master_key=MASTER)
    aad = secret_aad("x", "y")
    assert box.decrypt(box.encrypt(b"s", aad=aad), aad=aad) == b"s"
    with pytest.raises(DuplicateDataKey):
        repo.add(wrapped, now=NOW)


def test_rotation_keeps_old_keys(db: Database) -> None:
    repo = SecretKeyRepository(db)
    old, new = new_data_key(master_key=MASTER), new_data_key(master_key=MASTER)
    repo.add(old, now=NOW)
    repo.add(new, now=NOW + dt.timedelta(days=1))
    assert repo.active() == new
    assert repo.list() == (old, new)


def test_replace_after_rewrap(db: Database) -> None:
    repo = SecretKeyRepository(db)
    wrapped = new_data_key(master_key=MASTER)
    repo.add(wrapped, now=NOW)
    other_master = os.urandom(32)
    repo.replace(rewrap(wrapped, old_master_key=MASTER, new_master_key=other_master))
    box = SecretBox()
    box.unlock(repo.get(wrapped.key_id), master_key=other_master)  # type: ignore[arg-type]
    assert not box.locked
    with pytest.raises(DataKeyNotFound):
        repo.replace(new_data_key(master_key=MASTER))
