"""Memory one signed-in session takes in Redis (``MEMORY USAGE``), goal ≤ 1 KB (issue 8).

A session as sign-ins leave it: one passkey factor, then participants at a SAML SP (pairwise
NameID + SessionIndex), an OIDC client and a WS-Fed relying party.
Run: .venv/bin/python bench/session_memory.py [redis-url]
"""

from __future__ import annotations

import datetime as dt
import secrets
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis

from idp.factors.kinds import FactorKind, FactorUse
from idp.oidc.logout_channels import OidcParticipant
from idp.saml.logout import SessionParticipant
from idp.sessions import SessionStore
from idp.store.ephemeral import RedisStore


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else "redis://127.0.0.1:6379/0"
    prefix = f"bench-{secrets.token_hex(4)}:"
    store = RedisStore.from_url(url, prefix=prefix)
    sessions = SessionStore(store, idle_timeout=3600, absolute_lifetime=8 * 3600)
    now = dt.datetime.now(dt.UTC)
    credential = secrets.token_urlsafe(32)
    use = FactorUse(
        FactorKind.PASSKEY, credential, now, True, ("fido", "hwk", "user", "pin", "mfa")
    )
    ctx = sessions.create(employee_id=secrets.token_hex(16), factor=use, now=now)
    bare = _usage(url, prefix + "session:" + ctx.session_id)
    sessions.record_participant(
        ctx.session_id,
        SessionParticipant(
            "https://github.com/orgs/example",
            secrets.token_urlsafe(32),
            "_" + secrets.token_hex(16),
            "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
        ).encode(),
    )
    sessions.record_participant(
        ctx.session_id,
        OidcParticipant.for_session(client_id="webapp", session_id=ctx.session_id).encode(),
    )
    sessions.record_participant(ctx.session_id, "wsfed|owa")
    full = _usage(url, prefix + "session:" + ctx.session_id)
    sessions.end(ctx.session_id)
    store.close()
    print(
        f"Redis MEMORY USAGE of one session: {bare} bytes signed in, {full} bytes after "
        f"SAML + OIDC + WS-Fed answers (goal <= 1024: {'met' if full <= 1024 else 'NOT met'})"
    )


def _usage(url: str, key: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        value = client.memory_usage(key, samples=0)
    finally:
        client.close()
    assert value is not None, f"{key} is not in Redis"
    return int(value)


if __name__ == "__main__":
    main()
