"""Push challenges with number matching, in the short-lived store.

A challenge is one sign-in waiting for one employee's app: a transaction id, a two-digit
number the sign-in page shows, three choices the app shows (the number among them), the
context the person judges (relying party, address, browser, location hint) and an expiry.

Keys (every instance sees the same state):

- ``push:txn:<id>`` the challenge (JSON), taken once when the browser finishes the sign-in;
- ``push:user:<employee>`` the one outstanding transaction of an employee (``SET NX EX``:
  push-fatigue defence, at most one waiting request per person);
- ``push:answer:<id>`` the app's answer (``SET NX EX``: the first answer wins, a replayed or
  second answer is refused);
- ``push:open`` the transactions still waiting for an answer, each until its expiry (a
  deadline set: :func:`outstanding_count` is the metrics' gauge, without a scan).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from idp.factors.authenticator import wire
from idp.factors.authenticator.errors import ChallengeGone, ChallengeNotYours, PushOutstanding
from idp.store.ephemeral.base import EphemeralStore

_TXN, _USER, _ANSWER, _OPEN = "push:txn:", "push:user:", "push:answer:", "push:open"
#: the record outlives its expiry a little, so a late answer is told "expired", not "unknown"
_GRACE = 60


class Decision(StrEnum):
    APPROVED = "approved"
    DENIED = "denied"
    #: the app answered with a number the page did not show: a deny, audited as such
    WRONG_NUMBER = "wrong_number"


@dataclass(frozen=True)
class PushChallenge:
    transaction_id: str
    employee_id: str
    device_id: str
    number: int
    choices: tuple[int, int, int]
    #: random bytes (base64url) the signed answer must carry: it answers this challenge only
    nonce: str
    relying_party: str
    ip: str
    user_agent: str
    location: str | None
    created_at: int
    expires_at: int
    #: digest of the browser binding the sign-in began in
    browser: str

    def expired(self, now: dt.datetime) -> bool:
        return int(now.timestamp()) >= self.expires_at

    def for_app(self) -> dict[str, Any]:
        """What the app shows (never the number itself, only the three choices)."""
        return {
            "transaction_id": self.transaction_id,
            "nonce": self.nonce,
            "choices": list(self.choices),
            "relying_party": self.relying_party,
            "ip": self.ip,
            "user_agent": self.user_agent,
            "location": self.location,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
        }

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> PushChallenge:
        data = json.loads(raw)
        data["choices"] = tuple(data["choices"])
        return cls(**data)


@dataclass(frozen=True)
class PushAnswer:
    decision: Decision
    reason: str | None
    user_verified: bool
    at: int

    @classmethod
    def from_json(cls, raw: bytes) -> PushAnswer:
        data = json.loads(raw)
        return cls(Decision(data["decision"]), data["reason"], data["user_verified"], data["at"])


def _browser_digest(binding: str) -> str:
    return hashlib.sha256(b"push|" + binding.encode()).hexdigest()[:32]


def create_challenge(
    store: EphemeralStore,
    *,
    employee_id: str,
    device_id: str,
    relying_party: str,
    ip: str,
    user_agent: str,
    location: str | None,
    browser: str,
    now: dt.datetime,
    ttl: int,
) -> tuple[PushChallenge, bool]:
    """A new challenge for the employee, or their outstanding one when this same browser asks
    again (a reload); ``(challenge, created)``. Another browser's outstanding request refuses
    with :class:`PushOutstanding`."""
    txn = secrets.token_urlsafe(18)
    if not store.add_if_absent(_USER + employee_id, txn.encode(), ttl=ttl):
        current = store.get(_USER + employee_id)
        raw = store.get(_TXN + current.decode()) if current else None
        existing = PushChallenge.from_json(raw) if raw else None
        same_browser = existing is not None and existing.browser == _browser_digest(browser)
        if existing is not None and same_browser and not existing.expired(now):
            return existing, False
        raise PushOutstanding(
            "a sign-in request is already waiting on your phone; answer it, or wait "
            f"{ttl // 60 or 1} minutes and try again",
            retry_after=existing.expires_at - int(now.timestamp()) if existing else ttl,
        )
    rng = secrets.SystemRandom()
    choices = sorted(rng.sample(range(10, 100), 3))
    moment = int(now.timestamp())
    challenge = PushChallenge(
        transaction_id=txn,
        employee_id=employee_id,
        device_id=device_id,
        number=rng.choice(choices),
        choices=(choices[0], choices[1], choices[2]),
        nonce=wire.b64u(secrets.token_bytes(24)),
        relying_party=relying_party[:256],
        ip=ip[:64],
        user_agent=user_agent[:256],
        location=location[:64] if location else None,
        created_at=moment,
        expires_at=moment + ttl,
        browser=_browser_digest(browser),
    )
    store.put(_TXN + txn, challenge.to_json(), ttl=ttl + _GRACE)
    store.deadline_add(_OPEN, txn, deadline=challenge.expires_at, ttl=ttl + _GRACE)
    return challenge, True


def outstanding_count(store: EphemeralStore, *, now: dt.datetime) -> int:
    """Push requests of every instance that wait for an answer and have not expired."""
    return store.deadline_count(_OPEN, now=now.timestamp())


def load_challenge(store: EphemeralStore, transaction_id: str) -> PushChallenge:
    if not wire.TRANSACTION_ID.fullmatch(transaction_id or ""):
        raise ChallengeGone("the sign-in request id is malformed")
    raw = store.get(_TXN + transaction_id)
    if raw is None:
        raise ChallengeGone("this sign-in request has expired or was already used")
    return PushChallenge.from_json(raw)


def outstanding(
    store: EphemeralStore, *, employee_id: str, now: dt.datetime
) -> PushChallenge | None:
    """The employee's waiting, unanswered, unexpired challenge (what the app polls for)."""
    current = store.get(_USER + employee_id)
    raw = store.get(_TXN + current.decode()) if current else None
    if raw is None:
        return None
    challenge = PushChallenge.from_json(raw)
    if challenge.expired(now) or store.get(_ANSWER + challenge.transaction_id) is not None:
        return None
    return challenge


def record_answer(
    store: EphemeralStore,
    challenge: PushChallenge,
    *,
    device_id: str,
    approve: bool,
    number: int | None,
    reason: str | None,
    user_verified: bool,
    now: dt.datetime,
) -> PushAnswer:
    """Record the app's (already signature-checked) answer; the first answer wins."""
    if device_id != challenge.device_id:
        raise ChallengeNotYours("this sign-in request was sent to another device")
    if challenge.expired(now):
        raise ChallengeGone("this sign-in request expired before it was answered")
    if approve:
        decision = Decision.APPROVED if number == challenge.number else Decision.WRONG_NUMBER
    else:
        decision = Decision.DENIED
    answer = PushAnswer(decision, reason, user_verified, int(now.timestamp()))
    payload = json.dumps({**asdict(answer), "decision": decision.value}).encode()
    ttl = max(1, challenge.expires_at - int(now.timestamp())) + _GRACE
    if not store.add_if_absent(_ANSWER + challenge.transaction_id, payload, ttl=ttl):
        raise ChallengeGone("this sign-in request was already answered")
    store.deadline_remove(_OPEN, challenge.transaction_id)
    if decision is not Decision.APPROVED:
        # A refused request no longer blocks the next one.
        store.delete(_USER + challenge.employee_id)
    return answer


def answer_of(store: EphemeralStore, challenge: PushChallenge) -> PushAnswer | None:
    raw = store.get(_ANSWER + challenge.transaction_id)
    return None if raw is None else PushAnswer.from_json(raw)


def check_browser(challenge: PushChallenge, browser: str) -> None:
    if challenge.browser != _browser_digest(browser):
        raise ChallengeNotYours("this sign-in request was started in another browser")


def consume(store: EphemeralStore, challenge: PushChallenge) -> bool:
    """Take the approved challenge once (the sign-in it finishes); False if already taken."""
    taken = store.take(_TXN + challenge.transaction_id)
    store.deadline_remove(_OPEN, challenge.transaction_id)
    if store.get(_USER + challenge.employee_id) == challenge.transaction_id.encode():
        store.delete(_USER + challenge.employee_id)
    return taken is not None


def cancel(store: EphemeralStore, challenge: PushChallenge) -> None:
    """Forget an expired or refused challenge (the browser learned its outcome)."""
    store.delete(_TXN + challenge.transaction_id)
    store.deadline_remove(_OPEN, challenge.transaction_id)
    if store.get(_USER + challenge.employee_id) == challenge.transaction_id.encode():
        store.delete(_USER + challenge.employee_id)
