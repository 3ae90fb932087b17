"""Bind passwords and client secrets stored encrypted (``{stored: true}`` in the config).

The envelope of :mod:`idp.secrets`: the ciphertext is bound to its purpose and source name
(a ciphertext copied to another source does not decrypt); the data key is wrapped by the
master key (``master_key`` in idp.yaml, or ``HIDEEZ_IDP_MASTER_KEY``). Without a master key
a stored secret can be neither written nor read, and the sync says so.
"""

from __future__ import annotations

import base64
import os
from typing import TYPE_CHECKING

from idp.directory.sync.store import SyncStore
from idp.errors import SecretsLocked
from idp.secrets import SecretBox, master_key_from_env, new_data_key, secret_aad
from idp.store.sql.repositories.secret_keys import SecretKeyRepository

if TYPE_CHECKING:
    from idp.runtime import Runtime

PURPOSE = "directory-bind-secret"


def _master_key(runtime: Runtime) -> bytes:
    configured = runtime.config.master_key
    key = base64.b64decode(configured) if configured else master_key_from_env(os.environ)
    if key is None:
        raise SecretsLocked(
            "stored directory secrets need a master key: set master_key in idp.yaml "
            "or HIDEEZ_IDP_MASTER_KEY"
        )
    return key


def _box(runtime: Runtime, *, create: bool) -> SecretBox | None:
    keys = SecretKeyRepository(runtime.db)
    master = _master_key(runtime)
    box = SecretBox()
    stored = keys.list()
    if not stored:
        if not create:
            return None
        wrapped = new_data_key(master_key=master)
        keys.add(wrapped, now=runtime.now())
        stored = (wrapped,)
    for wrapped in stored:
        box.unlock(wrapped, master_key=master)
    active = keys.active()
    if active is not None:
        box.unlock(active, master_key=master)  # the active key encrypts
    return box


def store_secret(runtime: Runtime, source: str, secret: str) -> None:
    box = _box(runtime, create=True)
    assert box is not None
    ciphertext = box.encrypt(secret.encode(), aad=secret_aad(PURPOSE, source))
    SyncStore(runtime.db).put_secret(source, ciphertext, now=runtime.now())


def stored_secret(runtime: Runtime, source: str) -> str | None:
    ciphertext = SyncStore(runtime.db).secret(source)
    if ciphertext is None:
        return None
    box = _box(runtime, create=False)
    if box is None:
        raise SecretsLocked("a stored directory secret exists but no data key is stored")
    return box.decrypt(ciphertext, aad=secret_aad(PURPOSE, source)).decode()
