"""The runtime's secrets envelope: made on the first start with a master key, reused after,
from the environment when the config names none, locked without either."""

from __future__ import annotations

import base64
import datetime as dt
import os

import pytest

from idp.errors import SecretsLocked
from idp.secrets import MASTER_KEY_ENV, WrongMasterKey, secret_aad
from idp.secrets_unlock import unlock_secrets
from idp.store.sql import Database, SecretKeyRepository

NOW = dt.datetime(2026, 12, 2, tzinfo=dt.UTC)


def test_first_start_makes_a_data_key_and_later_starts_reuse_it(db: Database) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    keys = SecretKeyRepository(db)
    first = unlock_secrets(master_key=key, environ={}, keys=keys, now=NOW)
    sealed = first.encrypt(b"JBSWY3DPEHPK3PXP", aad=secret_aad("totp_secret", "emp-1"))
    again = unlock_secrets(master_key=None, environ={MASTER_KEY_ENV: key}, keys=keys, now=NOW)
    assert again.decrypt(sealed, aad=secret_aad("totp_secret", "emp-1")) == b"JBSWY3DPEHPK3PXP"
    assert len(keys.list()) == 1
    other = base64.b64encode(os.urandom(32)).decode()
    with pytest.raises(WrongMasterKey):
        unlock_secrets(master_key=other, environ={}, keys=keys, now=NOW)


def test_without_a_master_key_the_box_stays_locked(db: Database) -> None:
    box = unlock_secrets(master_key=None, environ={}, keys=SecretKeyRepository(db), now=NOW)
    assert box.locked
    with pytest.raises(SecretsLocked):
        box.encrypt(b"x", aad=b"")
    assert SecretKeyRepository(db).list() == ()
