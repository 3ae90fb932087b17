"""Memory one signed-in session takes in Redis (``MEMORY USAGE``), goal ≤ 1 KB (issue 15).

A session as sign-ins leave it: one passkey factor, then participants at a SAML SP (pairwise
NameID + SessionIndex), an OIDC client and a WS-Fed relying party. The same session is written
as record version 2 (what new sessions are) and as version 1 (the previous release's, and what
``session.record_version: 1`` keeps writing): version 1 is the same-run baseline.
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
from idp.session_records import RecordVersion
from idp.sessions import SessionStore
from idp.store.ephemeral import RedisStore

GOAL = 1024


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else "redis://127.0.0.1:6379/0"
    prefix = f"bench-{secrets.token_hex(4)}:"
    store = RedisStore.from_url(url, prefix=prefix)
    client = redis.Redis.from_url(url)
    try:
        v2_bare, v2_full = _measure(store, client, 2)
        v1_bare, v1_full = _measure(store, client, 1)
    finally:
        client.close()
        store.close()
    print("Redis MEMORY USAGE of one session (bytes), record v2 beside v1 (same run):")
    _row("signed in (passkey)", v2_bare, v1_bare)
    _row("+ SAML, OIDC, WS-Fed", v2_full, v1_full)


def _row(what: str, v2: int, v1: int) -> None:
    print(
        f"  {what:<22} v2 {v2:5d}   v1 {v1:5d}   ratio {v1 / v2:3.1f}x   "
        f"of goal ({GOAL}): {100 * v2 / GOAL:.0f}% (v1 {100 * v1 / GOAL:.0f}%)"
    )


def _measure(store: RedisStore, client: redis.Redis, version: RecordVersion) -> tuple[int, int]:
    """``MEMORY USAGE`` of the bench's session written as ``version``: signed in, then after
    the three answers."""
    sessions = SessionStore(
        store, idle_timeout=3600, absolute_lifetime=8 * 3600, record_version=version
    )
    now = dt.datetime.now(dt.UTC)
    credential = secrets.token_urlsafe(32)
    use = FactorUse(
        FactorKind.PASSKEY, credential, now, True, ("fido", "hwk", "user", "pin", "mfa")
    )
    ctx = sessions.create(employee_id=secrets.token_hex(16), factor=use, now=now)
    key = store.prefix + "session:" + ctx.session_id
    bare = _usage(client, key)
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
    full = _usage(client, key)
    sessions.end(ctx.session_id)
    sessions.forget_employee(ctx.employee_id)
    return bare, full


def _usage(client: redis.Redis, key: str) -> int:
    value = client.memory_usage(key, samples=0)
    assert value is not None, f"{key} is not in Redis"
    return int(value)


if __name__ == "__main__":
    main()
