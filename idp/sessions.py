"""Server-side sessions and the authentication context a protocol answers from."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any

from idp.errors import IdpError
from idp.factors.kinds import FactorKind, FactorUse
from idp.store.ephemeral.base import EphemeralStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuthContext:
    """Who signed in, when, and how: everything a SAML/OIDC/WS-Fed answer is built from."""

    session_id: str
    employee_id: str
    auth_time: dt.datetime
    factors: tuple[FactorUse, ...]

    @property
    def amr(self) -> tuple[str, ...]:
        seen: list[str] = []
        for use in self.factors:
            for value in use.amr:
                if value not in seen:
                    seen.append(value)
        if len({u.kind for u in self.factors}) > 1 and "mfa" not in seen:
            seen.append("mfa")
        return tuple(seen)

    @property
    def user_verified(self) -> bool:
        return any(u.user_verified for u in self.factors)


# -- the server-side session store -----------------------------------------------------------

SESSION_ID_BYTES = 32
_SESSION_ID_RE = re.compile(r"[A-Za-z0-9_-]{43}")
_KEY_PREFIX = "session:"
_PARTICIPANT = "p:"
#: per employee, a hash of their session ids (field) → creation time: what admins list and end
_EMPLOYEE_PREFIX = "employee_sessions:"
MAX_PARTICIPANT_LENGTH = 2048
SCHEMA_VERSION = b"1"


class SessionError(IdpError):
    """Root of the session errors."""

    error = "session_error"
    status = 400


class SessionNotFound(SessionError):
    """The session ended, timed out or never existed: the user signs in again."""

    error = "login_required"
    status = 401


class SessionEmployeeMismatch(SessionError):
    """A re-authentication inside a session was made by a different employee."""

    error = "session_employee_mismatch"
    status = 403


class CorruptSession(SessionError):
    """Stored session data does not parse (never expected; the session is dropped)."""

    error = "session_corrupt"
    status = 500


def _iso(value: dt.datetime) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"session times must be timezone-aware, got {value.isoformat()}")
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def factor_to_json(use: FactorUse) -> dict[str, object]:
    return {
        "kind": str(use.kind),
        "credential_id": use.credential_id,
        "at": _iso(use.at),
        "user_verified": use.user_verified,
        "amr": list(use.amr),
    }


def factor_from_json(data: dict[str, Any]) -> FactorUse:
    return FactorUse(
        kind=FactorKind(data["kind"]),
        credential_id=str(data["credential_id"]),
        at=dt.datetime.fromisoformat(data["at"]),
        user_verified=bool(data["user_verified"]),
        amr=tuple(str(a) for a in data["amr"]),
    )


def _encode_factors(factors: tuple[FactorUse, ...]) -> bytes:
    return json.dumps([factor_to_json(f) for f in factors], separators=(",", ":")).encode()


def _uses(factor: FactorUse | None, factors: tuple[FactorUse, ...]) -> tuple[FactorUse, ...]:
    uses = (factor,) if factor is not None else factors
    if not uses or (factor is not None and factors):
        raise ValueError("give either one factor or a non-empty tuple of factors")
    return uses


@dataclass(frozen=True)
class _Stored:
    context: AuthContext
    created_at: dt.datetime
    participants: tuple[str, ...]


@dataclass(frozen=True)
class SessionSummary:
    """A live session as an admin sees it: ``handle`` names it without being the bearer id."""

    handle: str
    employee_id: str
    created_at: dt.datetime
    auth_time: dt.datetime
    factors: tuple[FactorUse, ...]
    participants: tuple[str, ...]


def session_handle(session_id: str) -> str:
    """A stable public name for a session (the session id itself is a bearer credential): what
    admins see and what OIDC clients receive as ``sid``, so the two can be matched."""
    digest = hashlib.sha256(b"sid|" + session_id.encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode("ascii")


def _decode(session_id: str, fields: dict[str, bytes]) -> _Stored:
    try:
        if fields.get("v") != SCHEMA_VERSION:
            raise ValueError(f"schema version {fields.get('v')!r}")
        context = AuthContext(
            session_id=session_id,
            employee_id=fields["employee_id"].decode(),
            auth_time=dt.datetime.fromisoformat(fields["auth_time"].decode()),
            factors=tuple(factor_from_json(f) for f in json.loads(fields["factors"])),
        )
        created_at = dt.datetime.fromisoformat(fields["created_at"].decode())
    except (KeyError, ValueError, TypeError) as exc:
        raise CorruptSession(f"stored session does not parse: {exc}") from None
    participants = tuple(
        sorted(name[len(_PARTICIPANT) :] for name in fields if name.startswith(_PARTICIPANT))
    )
    return _Stored(context, created_at, participants)


class SessionStore:
    """Sessions in the short-lived store, as hashes under ``session:<id>``.

    The idle timeout is the hash's TTL, restarted on every read; the absolute lifetime is
    counted from creation and checked against the ``now`` passed in. Every operation costs
    one or two store round trips; updates never revive an ended session. Two concurrent
    ``add_factor`` calls on one session may keep only one of the factors (last write wins); a
    sign-in makes them one after another.
    """

    def __init__(self, store: EphemeralStore, *, idle_timeout: int, absolute_lifetime: int) -> None:
        if idle_timeout < 1 or absolute_lifetime < idle_timeout:
            raise ValueError(
                "need 1 <= idle_timeout <= absolute_lifetime (seconds), got "
                f"{idle_timeout} and {absolute_lifetime}"
            )
        self._store = store
        self._idle = idle_timeout
        self._absolute = dt.timedelta(seconds=absolute_lifetime)

    @staticmethod
    def is_well_formed(session_id: str) -> bool:
        return isinstance(session_id, str) and _SESSION_ID_RE.fullmatch(session_id) is not None

    def create(
        self,
        *,
        employee_id: str,
        now: dt.datetime,
        factor: FactorUse | None = None,
        factors: tuple[FactorUse, ...] = (),
    ) -> AuthContext:
        """A new session after a sign-in with ``factor`` (or a multi-step one's ``factors``)."""
        session_id = secrets.token_urlsafe(SESSION_ID_BYTES)
        context = AuthContext(session_id, employee_id, now, _uses(factor, factors))
        self._store.record_put(
            _KEY_PREFIX + session_id,
            {
                "v": SCHEMA_VERSION,
                "employee_id": employee_id.encode(),
                "created_at": _iso(now).encode(),
                "auth_time": _iso(now).encode(),
                "factors": _encode_factors(context.factors),
            },
            ttl=self._idle,
        )
        # The index lives as long as the longest session in it; stale ids are skipped on read.
        self._store.hash_put(
            _EMPLOYEE_PREFIX + employee_id,
            {session_id: _iso(now).encode()},
            ttl=int(self._absolute.total_seconds()),
        )
        return context

    def for_employee(self, employee_id: str, *, now: dt.datetime) -> tuple[SessionSummary, ...]:
        """The employee's live sessions, oldest first (reading does not extend their idle
        time: an admin looking is not the employee using it)."""
        index = self._store.hash_get(_EMPLOYEE_PREFIX + employee_id) or {}
        found = []
        for session_id in index:
            fields = (
                self._store.record_get(_KEY_PREFIX + session_id)
                if self.is_well_formed(session_id)
                else None
            )
            if fields is None:
                continue
            try:
                stored = _decode(session_id, fields)
            except CorruptSession:
                continue
            if stored.context.employee_id != employee_id or now >= (
                stored.created_at + self._absolute
            ):
                continue
            found.append(
                SessionSummary(
                    handle=session_handle(session_id),
                    employee_id=employee_id,
                    created_at=stored.created_at,
                    auth_time=stored.context.auth_time,
                    factors=stored.context.factors,
                    participants=stored.participants,
                )
            )
        return tuple(sorted(found, key=lambda x: (x.created_at, x.handle)))

    def end_for_employee(self, employee_id: str, *, handle: str | None = None) -> int:
        """End the employee's sessions (only the one named by ``handle`` if given); how many
        were live. Relying parties are not told: this is an admin's lock-out, not a logout."""
        index = self._store.hash_get(_EMPLOYEE_PREFIX + employee_id) or {}
        ended = 0
        for session_id in index:
            if handle is not None and session_handle(session_id) != handle:
                continue
            if not self.is_well_formed(session_id):
                continue
            fields = self._store.record_get(_KEY_PREFIX + session_id)
            if fields is not None and fields.get("employee_id") == employee_id.encode():
                self._store.delete(_KEY_PREFIX + session_id)
                ended += 1
        if handle is None:
            self._store.delete(_EMPLOYEE_PREFIX + employee_id)
        return ended

    def sessions_of(self, employee_id: str) -> tuple[str, ...]:
        """Ids of the employee's sessions that may still be alive (some may have expired)."""
        fields = self._store.hash_get(_EMPLOYEE_PREFIX + employee_id)
        return tuple(sorted(sid for sid in fields or () if self.is_well_formed(sid)))

    def forget_employee(self, employee_id: str) -> None:
        """Drop the index after every session in it was ended."""
        self._store.delete(_EMPLOYEE_PREFIX + employee_id)

    def _load(self, session_id: str, now: dt.datetime) -> _Stored | None:
        """One round trip (two when the session has outlived its absolute lifetime)."""
        if not self.is_well_formed(session_id):
            return None
        key = _KEY_PREFIX + session_id
        fields = self._store.record_get(key, refresh_ttl=self._idle)
        if fields is None:
            return None
        try:
            stored = _decode(session_id, fields)
        except CorruptSession as exc:
            # E.g. a write racing the session's end left half a hash: the browser simply
            # has no session (and signs in again), rather than an error page.
            log.warning("dropping unreadable session: %s", exc.description)
            self._store.delete(key)
            return None
        if now >= stored.created_at + self._absolute:
            self._store.delete(key)
            return None
        return stored

    def get(self, session_id: str, *, now: dt.datetime) -> AuthContext | None:
        """The session's context, or ``None`` if it is unknown, idle too long or too old."""
        stored = self._load(session_id, now)
        return None if stored is None else stored.context

    def _require(self, session_id: str, now: dt.datetime) -> _Stored:
        stored = self._load(session_id, now)
        if stored is None:
            raise SessionNotFound("the session has ended or expired; sign in again")
        return stored

    def add_factor(self, session_id: str, factor: FactorUse, *, now: dt.datetime) -> AuthContext:
        """Step-up: one more factor in the same sign-in; ``auth_time`` stays."""
        context = self._require(session_id, now).context
        updated = AuthContext(
            session_id, context.employee_id, context.auth_time, (*context.factors, factor)
        )
        self._update(session_id, {"factors": _encode_factors(updated.factors)})
        return updated

    def reauthenticate(
        self,
        session_id: str,
        *,
        expected_employee_id: str,
        now: dt.datetime,
        factor: FactorUse | None = None,
        factors: tuple[FactorUse, ...] = (),
    ) -> AuthContext:
        """A fresh sign-in inside the session (``prompt=login``, ``max_age``, ForceAuthn).

        ``auth_time`` becomes ``now`` and the factors are those of this sign-in only. It must
        be the same employee; a different one gets a new session instead.
        """
        context = self._require(session_id, now).context
        if context.employee_id != expected_employee_id:
            raise SessionEmployeeMismatch(
                f"the session belongs to another employee than {expected_employee_id!r}"
            )
        updated = AuthContext(session_id, context.employee_id, now, _uses(factor, factors))
        self._update(
            session_id,
            {"auth_time": _iso(now).encode(), "factors": _encode_factors(updated.factors)},
        )
        return updated

    def record_participant(self, session_id: str, participant: str) -> None:
        """Remember a relying party this session signed in to (for single logout).

        For example ``saml:<entity_id>|<nameid>|<session_index>`` or ``oidc:<client_id>|<sid>``.
        """
        if not participant or len(participant) > MAX_PARTICIPANT_LENGTH:
            raise ValueError(f"participant must be 1–{MAX_PARTICIPANT_LENGTH} characters")
        if not self.is_well_formed(session_id):
            raise SessionNotFound("the session has ended or expired; sign in again")
        self._update(session_id, {_PARTICIPANT + participant: b""})

    def _update(self, session_id: str, fields: dict[str, bytes]) -> None:
        # Atomic "only if it still exists": a write racing the session's end (logout, expiry)
        # must not bring back half a session.
        if not self._store.record_update(_KEY_PREFIX + session_id, fields, ttl=self._idle):
            raise SessionNotFound("the session has ended or expired; sign in again")

    def participants(self, session_id: str) -> tuple[str, ...]:
        """The relying parties recorded for the session, sorted; empty if it is gone."""
        if not self.is_well_formed(session_id):
            return ()
        fields = self._store.record_get(_KEY_PREFIX + session_id)
        if fields is None:
            return ()
        return tuple(
            sorted(name[len(_PARTICIPANT) :] for name in fields if name.startswith(_PARTICIPANT))
        )

    def end(self, session_id: str) -> None:
        """Forget the session (logout). Unknown or malformed ids are ignored."""
        if self.is_well_formed(session_id):
            self._store.delete(_KEY_PREFIX + session_id)
