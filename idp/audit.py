"""Audit events, hash-chained so that tampering, deletion and reordering are detectable.

Each stored :class:`AuditEvent` carries ``prev_hash`` (the previous event's ``hash``) and its
own ``hash`` = SHA-256 over the canonical JSON of every other field (sorted keys, no spaces,
UTC ISO-8601 times with microseconds). The first event's ``prev_hash`` is :data:`GENESIS_HASH`.
Callers describe what happened with an :class:`AuditEntry`; the store gives it its place in
the chain with :func:`seal`. :func:`verify_chain` names the first sequence number that breaks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

GENESIS_HASH = "0" * 64


class AuditKind(StrEnum):
    LOGIN_SUCCESS = "login_success"
    LOGIN_FAILURE = "login_failure"
    #: an assertion/token issued to a relying party from the session (written in the background)
    SSO_ISSUED = "sso_issued"
    LOGOUT = "logout"
    SESSION_ENDED = "session_ended"
    PASSKEY_REGISTERED = "passkey_registered"
    PASSKEY_REGISTRATION_FAILED = "passkey_registration_failed"
    PASSKEY_REMOVED = "passkey_removed"
    PASSKEY_RENAMED = "passkey_renamed"
    PASSKEY_CLONE_SUSPECTED = "passkey_clone_suspected"
    ENROLMENT_LINK_CREATED = "enrolment_link_created"
    ENROLMENT_LINK_REDEEMED = "enrolment_link_redeemed"
    EMPLOYEE_CREATED = "employee_created"
    EMPLOYEE_UPDATED = "employee_updated"
    EMPLOYEE_DELETED = "employee_deleted"
    EMPLOYEE_ENABLED = "employee_enabled"
    EMPLOYEE_DISABLED = "employee_disabled"
    PASSWORD_SET = "password_set"
    PASSWORD_CHANGED = "password_changed"
    PASSWORD_REMOVED = "password_removed"
    #: wrong passwords reached the limit: the account is locked until ``details["until"]``
    PASSWORD_LOCKED = "password_locked"
    #: an admin lifted a password lock before it ran out
    PASSWORD_UNLOCKED = "password_unlocked"
    FACTOR_ADDED = "factor_added"
    FACTOR_REMOVED = "factor_removed"
    #: "this wasn't me": the employee reported a push sign-in request they did not make
    PUSH_REPORTED = "push_reported"
    #: a push sent to the device a browser remembers, without a user name (or the record
    #: forgotten because that device or employee may no longer be used)
    PUSH_REMEMBERED_DEVICE = "push_remembered_device"
    VAULT_STATUS_CHANGED = "vault_status_changed"
    WORKSTATION_EVENT = "workstation_event"
    ALARM_RAISED = "alarm_raised"
    ALARM_LIFTED = "alarm_lifted"
    ADMIN_CHANGE = "admin_change"
    ADMIN_LOGIN_SUCCESS = "admin_login_success"
    ADMIN_LOGIN_FAILURE = "admin_login_failure"
    SECRETS_UNLOCKED = "secrets_unlocked"
    SECRETS_UNLOCK_FAILED = "secrets_unlock_failed"
    DIRECTORY_SYNC = "directory_sync"
    CONFIG_LOADED = "config_loaded"


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    INFO = "info"


def _utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"audit times must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(dt.UTC)


def _frozen_details(details: Mapping[str, str]) -> Mapping[str, str]:
    for name, value in details.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(f"audit details map str → str, got {name!r} → {value!r}")
    return MappingProxyType(dict(details))


@dataclass(frozen=True)
class AuditEntry:
    """What happened, before the store gives it a place in the chain.

    ``actor`` is who did it (an employee id, ``admin:<name>``, ``system``); ``details`` holds
    short strings only — never secrets, tokens or whole requests.
    """

    at: dt.datetime
    kind: AuditKind
    actor: str
    outcome: Outcome = Outcome.SUCCESS
    employee_id: str | None = None
    relying_party: str | None = None
    factor: str | None = None
    reason: str | None = None
    details: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", _utc(self.at))
        object.__setattr__(self, "kind", AuditKind(self.kind))
        object.__setattr__(self, "outcome", Outcome(self.outcome))
        object.__setattr__(self, "details", _frozen_details(self.details))


@dataclass(frozen=True)
class AuditEvent:
    """An event in the chain: an :class:`AuditEntry` with ``seq``, ``prev_hash`` and ``hash``."""

    seq: int
    at: dt.datetime
    kind: AuditKind
    actor: str
    outcome: Outcome
    employee_id: str | None
    relying_party: str | None
    factor: str | None
    reason: str | None
    details: Mapping[str, str]
    prev_hash: str
    hash: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", _utc(self.at))
        object.__setattr__(self, "details", _frozen_details(self.details))


def canonical_json(event: AuditEvent | AuditEntry, *, seq: int, prev_hash: str) -> bytes:
    """The bytes an event's hash covers: every field but ``hash`` itself, canonically encoded."""
    body = {
        "seq": seq,
        "at": event.at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "kind": str(event.kind),
        "actor": event.actor,
        "outcome": str(event.outcome),
        "employee_id": event.employee_id,
        "relying_party": event.relying_party,
        "factor": event.factor,
        "reason": event.reason,
        "details": dict(event.details),
        "prev_hash": prev_hash,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(prev_hash: str, event: AuditEvent | AuditEntry, *, seq: int | None = None) -> str:
    """SHA-256 (hex) of ``event`` placed after ``prev_hash`` (at ``seq``, or ``event.seq``)."""
    if seq is None:
        if not isinstance(event, AuditEvent):
            raise TypeError("an AuditEntry has no seq yet: pass seq=")
        seq = event.seq
    return hashlib.sha256(canonical_json(event, seq=seq, prev_hash=prev_hash)).hexdigest()


def seal(entry: AuditEntry, *, seq: int, prev_hash: str) -> AuditEvent:
    """Give ``entry`` its place in the chain after the event whose hash is ``prev_hash``."""
    return AuditEvent(
        seq=seq,
        at=entry.at,
        kind=entry.kind,
        actor=entry.actor,
        outcome=entry.outcome,
        employee_id=entry.employee_id,
        relying_party=entry.relying_party,
        factor=entry.factor,
        reason=entry.reason,
        details=entry.details,
        prev_hash=prev_hash,
        hash=chain_hash(prev_hash, entry, seq=seq),
    )


@dataclass(frozen=True)
class ChainReport:
    """The result of checking a chain: ``first_broken_seq`` is ``None`` when it is intact."""

    checked: int
    last_seq: int
    last_hash: str
    first_broken_seq: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.first_broken_seq is None


def verify_chain(
    events: Iterable[AuditEvent],
    *,
    start_seq: int = 1,
    start_prev_hash: str = GENESIS_HASH,
    expected_last: tuple[int, str] | None = None,
) -> ChainReport:
    """Check ``events`` (in stored order) link up from ``start_seq`` after ``start_prev_hash``.

    ``expected_last`` is the chain head kept beside the events (last seq and hash): without it
    a truncated tail cannot be told from a shorter chain.
    """
    expected_seq, prev_hash, checked = start_seq, start_prev_hash, 0

    def broken(seq: int, reason: str) -> ChainReport:
        return ChainReport(checked, expected_seq - 1, prev_hash, seq, reason)

    for event in events:
        if event.seq != expected_seq:
            return broken(expected_seq, f"expected seq {expected_seq}, found seq {event.seq}")
        if event.prev_hash != prev_hash:
            return broken(event.seq, f"seq {event.seq} does not link to the previous event")
        if chain_hash(prev_hash, event) != event.hash:
            return broken(event.seq, f"seq {event.seq} content does not match its hash")
        prev_hash, expected_seq, checked = event.hash, expected_seq + 1, checked + 1
    if expected_last is not None and expected_last != (expected_seq - 1, prev_hash):
        last_seq = expected_last[0]
        if last_seq >= expected_seq:
            return broken(
                expected_seq,
                f"chain ends at seq {expected_seq - 1}, head says "
                f"{last_seq}: events were removed from the end",
            )
        return broken(last_seq, f"chain head (seq {last_seq}) does not match the last event")
    return ChainReport(checked, expected_seq - 1, prev_hash)
