"""Idempotency keys for creating requests (draft-ietf-httpapi-idempotency-key-header).

A client that retries a ``POST`` with the same ``Idempotency-Key`` gets the first answer
again instead of a second employee or a second API key. The first answer is kept in the
short-lived store for a day, keyed by the acting admin and the key (so two admins' keys never
meet), with a fingerprint of the request: the same key with another request is refused, as is
a retry while the first is still running. An answer that carried a secret is kept without it
(the creating call decides what a replay shows), so the store never holds one.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from idp.admin.models import field_error
from idp.errors import Conflict, IdpError, InvalidRequest
from idp.store.ephemeral.base import EphemeralStore

TTL = 24 * 3600
#: how long a started request holds its key before a retry may run it again
PENDING_TTL = 60
MAX_KEY = 255


class IdempotencyKeyReused(InvalidRequest):
    """The key was used before for a different request (RFC draft §2.7: 422)."""

    error = "idempotency_key_reused"
    status = 422


class IdempotencyInProgress(Conflict):
    """A request with this key is still being processed (RFC draft §2.7: 409)."""

    error = "idempotency_in_progress"


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    #: what a replay returns instead of ``body`` (e.g. without a secret shown once)
    replay_body: bytes | None = None


def fingerprint(*parts: bytes | str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


class Idempotency:
    def __init__(self, store: EphemeralStore, *, ttl: int = TTL) -> None:
        self._store = store
        self._ttl = ttl

    def run(
        self, *, actor: str, key: str, request: str, produce: Callable[[], Answer]
    ) -> tuple[Answer, bool]:
        """``produce()``'s answer, or the one kept from the first request with ``key``;
        the flag says whether it is a replay. A refused first request keeps nothing, so it
        may be retried with the same key after the client fixes it."""
        if not 1 <= len(key) <= MAX_KEY or not key.isascii() or not key.isprintable():
            raise field_error("Idempotency-Key", f"expected 1-{MAX_KEY} printable ASCII characters")
        slot = "admin_idem:" + fingerprint(actor, key)
        pending = json.dumps({"request": request, "state": "pending"}).encode()
        if not self._store.add_if_absent(slot, pending, ttl=PENDING_TTL):
            return self._replay(slot, request), True
        try:
            answer = produce()
        except IdpError:
            self._store.delete(slot)
            raise
        kept = answer.body if answer.replay_body is None else answer.replay_body
        done = {
            "request": request,
            "state": "done",
            "status": answer.status,
            "body": base64.b64encode(kept).decode(),
        }
        self._store.put(slot, json.dumps(done).encode(), ttl=self._ttl)
        return answer, False

    def _replay(self, slot: str, request: str) -> Answer:
        raw = self._store.get(slot)
        if raw is None:  # expired between the two calls: as good as in progress
            raise IdempotencyInProgress("a request with this Idempotency-Key is in progress")
        kept = json.loads(raw)
        if kept["request"] != request:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used for a different request; use a new key"
            )
        if kept["state"] != "done":
            raise IdempotencyInProgress(
                "a request with this Idempotency-Key is still in progress; retry shortly"
            )
        return Answer(status=int(kept["status"]), body=base64.b64decode(kept["body"]))
