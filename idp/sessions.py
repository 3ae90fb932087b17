"""Server-side sessions and the authentication context a protocol answers from."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass

from idp.errors import IdpError
from idp.factors.kinds import FactorUse
from idp.session_records import (
    PARTICIPANT,
    RECORD_VERSIONS,
    RecordVersion,
    SessionRecord,
    iso_utc,
    new_fields,
    read_record,
    update_fields,
)
from idp.store.ephemeral.base import EphemeralStore
from idp.store.errors import WrongValueType

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
#: per employee, a hash of their session ids (field) → creation time: what admins list and end
_EMPLOYEE_PREFIX = "employee_sessions:"
MAX_PARTICIPANT_LENGTH = 2048


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


def _uses(factor: FactorUse | None, factors: tuple[FactorUse, ...]) -> tuple[FactorUse, ...]:
    uses = (factor,) if factor is not None else factors
    if not uses or (factor is not None and factors):
        raise ValueError("give either one factor or a non-empty tuple of factors")
    return uses


@dataclass(frozen=True)
class _Stored:
    context: AuthContext
    record: SessionRecord


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
        record = read_record(fields)
    except ValueError as exc:
        raise CorruptSession(f"stored session does not parse: {exc}") from None
    context = AuthContext(session_id, record.employee_id, record.auth_time, record.factors)
    return _Stored(context, record)


class SessionStore:
    """Sessions in the short-lived store, as records under ``session:<id>``.

    New sessions are written as ``record_version`` (see :mod:`idp.session_records`); both
    versions are read, and an update keeps the version of the record it changes.

    The idle timeout is the record's TTL, restarted on every read; the absolute lifetime is
    counted from creation and checked against the ``now`` passed in. Every operation costs
    one or two store round trips; updates never revive an ended session. Two concurrent
    ``add_factor`` calls on one session may keep only one of the factors (last write wins); a
    sign-in makes them one after another.
    """

    def __init__(
        self,
        store: EphemeralStore,
        *,
        idle_timeout: int,
        absolute_lifetime: int,
        record_version: RecordVersion = 2,
    ) -> None:
        if idle_timeout < 1 or absolute_lifetime < idle_timeout:
            raise ValueError(
                "need 1 <= idle_timeout <= absolute_lifetime (seconds), got "
                f"{idle_timeout} and {absolute_lifetime}"
            )
        if record_version not in RECORD_VERSIONS:
            raise ValueError(f"record_version must be 1 or 2, got {record_version!r}")
        self._store = store
        self._version: RecordVersion = record_version
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
            new_fields(
                version=self._version, employee_id=employee_id, now=now, factors=context.factors
            ),
            ttl=self._idle,
        )
        # The index lives as long as the longest session in it; stale ids are skipped on read.
        self._store.hash_put(
            _EMPLOYEE_PREFIX + employee_id,
            {session_id: iso_utc(now).encode()},
            ttl=int(self._absolute.total_seconds()),
        )
        return context

    def for_employee(self, employee_id: str, *, now: dt.datetime) -> tuple[SessionSummary, ...]:
        """The employee's live sessions, oldest first (reading does not extend their idle
        time: an admin looking is not the employee using it)."""
        index = self._store.hash_get(_EMPLOYEE_PREFIX + employee_id) or {}
        found = []
        for session_id in index:
            stored = self._read(session_id) if self.is_well_formed(session_id) else None
            if stored is None:
                continue
            if stored.context.employee_id != employee_id or now >= (
                stored.record.created_at + self._absolute
            ):
                continue
            found.append(
                SessionSummary(
                    handle=session_handle(session_id),
                    employee_id=employee_id,
                    created_at=stored.record.created_at,
                    auth_time=stored.context.auth_time,
                    factors=stored.context.factors,
                    participants=stored.record.participants,
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
            stored = self._read(session_id)
            if stored is not None and stored.context.employee_id == employee_id:
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

    def _read(self, session_id: str, *, refresh_ttl: int | None = None) -> _Stored | None:
        """The stored session, or ``None``; one round trip (two to drop an unreadable one)."""
        key = _KEY_PREFIX + session_id
        try:
            fields = self._store.record_get(key, refresh_ttl=refresh_ttl)
            return None if fields is None else _decode(session_id, fields)
        except (CorruptSession, WrongValueType) as exc:
            # E.g. a write racing the session's end left half a record, or a version this
            # release does not know: the browser simply has no session (and signs in again),
            # rather than an error page.
            log.warning("dropping unreadable session: %s", exc.description)
            self._store.delete(key)
            return None

    def _load(self, session_id: str, now: dt.datetime) -> _Stored | None:
        """One round trip (two when the session has outlived its absolute lifetime)."""
        if not self.is_well_formed(session_id):
            return None
        stored = self._read(session_id, refresh_ttl=self._idle)
        if stored is not None and now >= stored.record.created_at + self._absolute:
            self._store.delete(_KEY_PREFIX + session_id)
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
        stored = self._require(session_id, now)
        context = stored.context
        updated = AuthContext(
            session_id, context.employee_id, context.auth_time, (*context.factors, factor)
        )
        self._update(
            session_id, update_fields(version=stored.record.version, factors=updated.factors)
        )
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
        stored = self._require(session_id, now)
        context = stored.context
        if context.employee_id != expected_employee_id:
            raise SessionEmployeeMismatch(
                f"the session belongs to another employee than {expected_employee_id!r}"
            )
        updated = AuthContext(session_id, context.employee_id, now, _uses(factor, factors))
        self._update(
            session_id,
            update_fields(version=stored.record.version, factors=updated.factors, auth_time=now),
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
        self._update(session_id, {PARTICIPANT + participant: b""})

    def _update(self, session_id: str, fields: dict[str, bytes]) -> None:
        # Atomic "only if it still exists": a write racing the session's end (logout, expiry)
        # must not bring back half a session.
        if not self._store.record_update(_KEY_PREFIX + session_id, fields, ttl=self._idle):
            raise SessionNotFound("the session has ended or expired; sign in again")

    def participants(self, session_id: str) -> tuple[str, ...]:
        """The relying parties recorded for the session, sorted; empty if it is gone."""
        stored = self._read(session_id) if self.is_well_formed(session_id) else None
        return () if stored is None else stored.record.participants

    def end(self, session_id: str) -> None:
        """Forget the session (logout). Unknown or malformed ids are ignored."""
        if self.is_well_formed(session_id):
            self._store.delete(_KEY_PREFIX + session_id)
