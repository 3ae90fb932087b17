"""What OIDC keeps in the relational database: refresh-token families and remembered consent.

Refresh tokens live for weeks, so they must survive a restart of the short-lived store (Redis
may keep nothing on disk, and ``memory://`` keeps nothing at all). Authorization codes and
access tokens stay in the short-lived store: they live for seconds to an hour, and losing them
only asks the user to sign in again.

A *family* is one grant (one sign-in for one client) and every refresh token issued for it.
Rotation spends a token with one conditional ``UPDATE … WHERE used_at IS NULL``: of two
presentations racing, on SQLite (``BEGIN IMMEDIATE``) or PostgreSQL (the row lock makes the
second ``UPDATE`` re-check its condition after the first commits), exactly one wins; the other
finds a spent token and revokes the family (OAuth 2.0 Security BCP §4.14.2). Spent tokens are
kept as evidence until the family expires, so a replay is recognised for the family's whole
life. Token values are never stored, only their SHA-256.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String, Text, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from idp.oidc.errors import FamilyRevokedError, InvalidGrantError
from idp.oidc.grants import Grant
from idp.store.sql.models import ID, Base, UtcDateTime

if TYPE_CHECKING:
    from idp.store.sql.database import Database

DIGEST = String(64)
CLIENT_ID = String(128)
REASON = String(64)
MAX_CONSENT_SCOPES = 64


class OidcGrantRow(Base):
    """A refresh-token family: the grant it renews and whether it was revoked."""

    __tablename__ = "oidc_grants"
    grant_id: Mapped[str] = mapped_column(ID, primary_key=True)
    client_id: Mapped[str] = mapped_column(CLIENT_ID)
    employee_id: Mapped[str] = mapped_column(
        ID, ForeignKey("employees.id", ondelete="CASCADE"), index=True
    )
    grant_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    # The newest token's expiry: the family is purged after it.
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(REASON)


class OidcRefreshTokenRow(Base):
    __tablename__ = "oidc_refresh_tokens"
    token_hash: Mapped[str] = mapped_column(DIGEST, primary_key=True)
    grant_id: Mapped[str] = mapped_column(
        ID, ForeignKey("oidc_grants.grant_id", ondelete="CASCADE"), index=True
    )
    issued_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class OidcConsentRow(Base):
    """The scopes an employee allowed a client (``require_consent`` clients, ``prompt=consent``)."""

    __tablename__ = "oidc_consents"
    employee_id: Mapped[str] = mapped_column(
        ID, ForeignKey("employees.id", ondelete="CASCADE"), primary_key=True
    )
    client_id: Mapped[str] = mapped_column(CLIENT_ID, primary_key=True)
    scopes: Mapped[str] = mapped_column(Text)
    granted_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)


class _Spend(enum.Enum):
    ROTATED = "rotated"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    REUSED = "reused"
    REVOKED = "revoked"
    WRONG_CLIENT = "wrong_client"


_REFUSALS = {
    _Spend.UNKNOWN: "the refresh token is unknown or expired",
    _Spend.EXPIRED: "the refresh token is unknown or expired",
    _Spend.REUSED: "the refresh token was already used; every token of this sign-in is revoked",
    _Spend.REVOKED: "the refresh token was revoked",
    _Spend.WRONG_CLIENT: "the refresh token was issued to another client; it is revoked",
}


@dataclass(frozen=True)
class SqlRefreshFamilies:
    """Refresh-token families in the relational database (the ``RefreshFamilies`` contract)."""

    db: Database

    def start(self, grant: Grant, *, token_hash: str, now: dt.datetime, ttl: int) -> None:
        """Record a new family with its first token."""
        expires = now + dt.timedelta(seconds=ttl)
        # Core statements (no ORM unit of work): a code exchange with a refresh token is on
        # the token endpoint's hot path.
        with self.db.connection(write=True) as c:
            c.execute(
                insert(OidcGrantRow),
                {"grant_id": grant.grant_id, "client_id": grant.client_id,
                 "employee_id": grant.employee_id, "grant_json": grant.to_json().decode(),
                 "created_at": now, "expires_at": expires},
            )  # fmt: skip
            c.execute(
                insert(OidcRefreshTokenRow),
                {"token_hash": token_hash, "grant_id": grant.grant_id, "issued_at": now,
                 "expires_at": expires},
            )  # fmt: skip

    def rotate(
        self,
        *,
        token_hash: str,
        next_hash: str,
        client_id: str,
        now: dt.datetime,
        ttl: int,
        check: Callable[[Grant], None] | None = None,
    ) -> Grant:
        """Spend ``token_hash``, record ``next_hash`` in its family, return the family's grant.

        Raises :class:`InvalidGrantError`; a replayed token or one presented by another client
        revokes the family and raises :class:`FamilyRevokedError` once that is committed.
        Whatever ``check(grant)`` raises rolls the spending back.
        """
        revoked: str | None = None
        with self.db.transaction(write=True) as s:
            outcome, grant = _spend(s, token_hash, client_id=client_id, now=now)
            if outcome is _Spend.ROTATED and grant is not None:
                if check is not None:
                    check(grant)  # raising here leaves the transaction: the UPDATE is undone
                expires = now + dt.timedelta(seconds=ttl)
                s.add(_token(next_hash, grant.grant_id, now=now, expires=expires))
                s.execute(
                    update(OidcGrantRow)
                    .where(OidcGrantRow.grant_id == grant.grant_id)
                    .values(expires_at=expires)
                )
                return grant
            if outcome in (_Spend.REUSED, _Spend.WRONG_CLIENT) and grant is not None:
                _revoke(s, grant.grant_id, now=now, reason=outcome.value)
                revoked = grant.grant_id
        # Raised after the transaction committed, so the revocation above is kept.
        if revoked is not None:
            raise FamilyRevokedError(_REFUSALS[outcome], grant_id=revoked)
        raise InvalidGrantError(_REFUSALS[outcome])

    def revoke(self, grant_id: str, *, now: dt.datetime, reason: str) -> bool:
        """Revoke a family (code replay, logout, admin action); False if it was not there."""
        with self.db.transaction(write=True) as s:
            return _revoke(s, grant_id, now=now, reason=reason)

    def revoke_for_employee(self, employee_id: str, *, now: dt.datetime, reason: str) -> int:
        """Revoke every live family of an employee (deactivation, lost key); returns how many."""
        with self.db.transaction(write=True) as s:
            result = s.execute(
                update(OidcGrantRow)
                .where(OidcGrantRow.employee_id == employee_id, OidcGrantRow.revoked_at.is_(None))
                .values(revoked_at=now, revoked_reason=reason[:64])
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def revoked(self, grant_id: str) -> bool:
        with self.db.transaction() as s:
            row = s.get(OidcGrantRow, grant_id)
            return row is not None and row.revoked_at is not None

    def purge_expired(self, *, now: dt.datetime) -> int:
        """Delete families whose newest token expired (their tokens go with them)."""
        with self.db.transaction(write=True) as s:
            result = s.execute(delete(OidcGrantRow).where(OidcGrantRow.expires_at <= now))
            return int(result.rowcount)  # type: ignore[attr-defined]


def _token(
    token_hash: str, grant_id: str, *, now: dt.datetime, expires: dt.datetime
) -> OidcRefreshTokenRow:
    return OidcRefreshTokenRow(
        token_hash=token_hash, grant_id=grant_id, issued_at=now, expires_at=expires
    )


def _spend(
    s: Session, token_hash: str, *, client_id: str, now: dt.datetime
) -> tuple[_Spend, Grant | None]:
    # The conditional UPDATE is the whole race: only one presentation can set used_at.
    spent = s.execute(
        update(OidcRefreshTokenRow)
        .where(
            OidcRefreshTokenRow.token_hash == token_hash,
            OidcRefreshTokenRow.used_at.is_(None),
            OidcRefreshTokenRow.expires_at > now,
        )
        .values(used_at=now)
    )
    found = s.execute(
        select(OidcRefreshTokenRow, OidcGrantRow)
        .join(OidcGrantRow, OidcGrantRow.grant_id == OidcRefreshTokenRow.grant_id)
        .where(OidcRefreshTokenRow.token_hash == token_hash)
    ).one_or_none()
    if found is None:
        return _Spend.UNKNOWN, None
    token, family = found
    grant = Grant.from_json(family.grant_json.encode())
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        return (_Spend.EXPIRED if token.used_at is None else _Spend.REUSED), grant
    if family.client_id != client_id:
        return _Spend.WRONG_CLIENT, grant
    if family.revoked_at is not None:
        return _Spend.REVOKED, grant
    return _Spend.ROTATED, grant


def _revoke(s: Session, grant_id: str, *, now: dt.datetime, reason: str) -> bool:
    result = s.execute(
        update(OidcGrantRow)
        .where(OidcGrantRow.grant_id == grant_id, OidcGrantRow.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason[:64])
    )
    if result.rowcount == 1:  # type: ignore[attr-defined]
        return True
    return s.get(OidcGrantRow, grant_id) is not None


@dataclass(frozen=True)
class SqlConsents:
    """Remembered consent per (employee, client): the union of the scopes allowed so far."""

    db: Database

    def scopes(self, *, employee_id: str, client_id: str, now: dt.datetime) -> frozenset[str]:
        """The scopes allowed and not expired (empty when nothing is remembered)."""
        with self.db.transaction() as s:
            row = s.get(OidcConsentRow, (employee_id, client_id))
            if row is None or row.expires_at <= now:
                return frozenset()
            return frozenset(row.scopes.split())

    def remember(
        self,
        *,
        employee_id: str,
        client_id: str,
        scopes: tuple[str, ...],
        now: dt.datetime,
        ttl: int,
    ) -> frozenset[str]:
        """Add ``scopes`` to what the employee allowed the client; restarts the lifetime."""
        try:
            return self._remember(employee_id, client_id, scopes, now=now, ttl=ttl)
        except IntegrityError:
            # Two first consents raced to insert the row: the second now finds it and merges.
            return self._remember(employee_id, client_id, scopes, now=now, ttl=ttl)

    def _remember(
        self, employee_id: str, client_id: str, scopes: tuple[str, ...], *, now: dt.datetime,
        ttl: int,
    ) -> frozenset[str]:  # fmt: skip
        expires = now + dt.timedelta(seconds=ttl)
        with self.db.transaction(write=True) as s:
            row = s.get(OidcConsentRow, (employee_id, client_id), with_for_update=True)
            if row is None:
                allowed = _checked(frozenset(scopes))
                s.add(OidcConsentRow(employee_id=employee_id, client_id=client_id,
                                     scopes=" ".join(sorted(allowed)), granted_at=now,
                                     expires_at=expires))  # fmt: skip
                return allowed
            # An expired consent does not carry its old scopes over.
            before = frozenset(row.scopes.split()) if row.expires_at > now else frozenset()
            allowed = _checked(before | frozenset(scopes))
            row.scopes, row.granted_at, row.expires_at = " ".join(sorted(allowed)), now, expires
            return allowed

    def forget(self, *, employee_id: str, client_id: str) -> bool:
        with self.db.transaction(write=True) as s:
            result = s.execute(
                delete(OidcConsentRow).where(
                    OidcConsentRow.employee_id == employee_id,
                    OidcConsentRow.client_id == client_id,
                )
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def purge_expired(self, *, now: dt.datetime) -> int:
        with self.db.transaction(write=True) as s:
            result = s.execute(delete(OidcConsentRow).where(OidcConsentRow.expires_at <= now))
            return int(result.rowcount)  # type: ignore[attr-defined]


def _checked(scopes: frozenset[str]) -> frozenset[str]:
    if len(scopes) > MAX_CONSENT_SCOPES:
        raise ValueError(f"at most {MAX_CONSENT_SCOPES} scopes are remembered, got {len(scopes)}")
    return scopes
