"""The runtime's secrets envelope: unlocked at start from the configured master key.

``master_key`` (``{env: …}`` or ``{file: …}`` in idp.yaml) or, without it, the
``HIDEEZ_IDP_MASTER_KEY`` environment variable, is the key-encryption key. On the first start
with a key a random data key is made and stored wrapped (``secret_keys``); later starts unwrap
every stored key, the active one last (it encrypts). Without any master key the box stays
locked and whatever needs a secret at rest (TOTP) refuses with :class:`SecretsLocked`.
:func:`idp.runtime.build_runtime` calls this only when it migrates (serving processes).
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
from collections.abc import Mapping

from idp.secrets import Kdf, SecretBox, master_key_from_env, new_data_key
from idp.store.sql.repositories.secret_keys import SecretKeyRepository

log = logging.getLogger("hideez_idp")


def unlock_secrets(
    *,
    master_key: str | None,
    environ: Mapping[str, str],
    keys: SecretKeyRepository,
    now: dt.datetime,
) -> SecretBox:
    box = SecretBox()
    kek = base64.b64decode(master_key) if master_key else master_key_from_env(environ)
    if kek is None:
        log.info("secrets at rest are locked: no master_key configured")
        return box
    active = keys.active()
    if active is None:
        active = new_data_key(master_key=kek)
        keys.add(active, now=now)
    for wrapped in keys.list():
        if wrapped.key_id != active.key_id and wrapped.kdf is Kdf.MASTER_KEY:
            box.unlock(wrapped, master_key=kek)
    box.unlock(active, master_key=kek)
    return box
