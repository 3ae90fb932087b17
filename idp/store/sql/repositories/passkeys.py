"""Registered WebAuthn credentials (passkeys and security keys)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Row, bindparam, delete, select, update
from sqlalchemy.orm import Session

from idp.errors import Conflict
from idp.factors.kinds import FactorKind
from idp.factors.registry import PasskeyCredential
from idp.store.errors import DuplicateRecord, RecordNotFound
from idp.store.sql.database import Database
from idp.store.sql.models import EmployeeRow, PasskeyCredentialRow
from idp.store.sql.repositories.common import conflicts_as, require_aware
from idp.store.sql.repositories.employees import EmployeeNotFound

MAX_NAME_LENGTH = 255


class DuplicateCredential(DuplicateRecord):
    """A credential with this id is already registered (to anyone)."""

    error = "credential_exists"


class CredentialNotFound(RecordNotFound):
    pass


class SignCountNotIncreased(Conflict):
    """The authenticator's counter did not go up: the credential may have been cloned.

    WebAuthn §6.1.1: a signature counter that is not greater than the stored one (unless both
    are zero, i.e. the authenticator keeps no counter) is a signal of a cloned authenticator.
    """

    error = "sign_count_not_increased"

    def __init__(self, description: str, *, stored: int, received: int) -> None:
        super().__init__(description)
        self.stored = stored
        self.received = received


_BY_ID = select(PasskeyCredentialRow.__table__).where(
    PasskeyCredentialRow.credential_id == bindparam("credential_id")
)


def _from_row(row: PasskeyCredentialRow | Row[Any]) -> PasskeyCredential:
    return PasskeyCredential(
        credential_id=row.credential_id,
        employee_id=row.employee_id,
        public_key=bytes(row.public_key),
        sign_count=row.sign_count,
        aaguid=row.aaguid,
        transports=tuple(row.transports),
        backup_eligible=row.backup_eligible,
        backed_up=row.backed_up,
        user_verified=row.user_verified,
        attestation_format=row.attestation_format,
        name=row.name,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        kind=FactorKind(row.kind),
    )


def check_credential_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned or len(cleaned) > MAX_NAME_LENGTH or not cleaned.isprintable():
        raise ValueError(f"a credential name is 1–{MAX_NAME_LENGTH} printable characters")
    return cleaned


def _owned(
    s: Session, credential_id: str, expected_employee_id: str | None
) -> PasskeyCredentialRow:
    row = s.get(PasskeyCredentialRow, credential_id, with_for_update=True)
    # Another employee's credential is reported as missing, not as forbidden.
    if row is None or (
        expected_employee_id is not None and row.employee_id != expected_employee_id
    ):
        raise CredentialNotFound(f"no credential {credential_id!r} for this employee")
    return row


class PasskeyRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, credential: PasskeyCredential) -> PasskeyCredential:
        require_aware(credential.created_at, "created_at")
        with (
            conflicts_as(DuplicateCredential, "credential id"),
            self._db.transaction(write=True) as s,
        ):
            if s.get(EmployeeRow, credential.employee_id) is None:
                raise EmployeeNotFound(f"no employee {credential.employee_id!r}")
            if s.get(PasskeyCredentialRow, credential.credential_id) is not None:
                raise DuplicateCredential("this credential is already registered")
            s.add(
                PasskeyCredentialRow(
                    credential_id=credential.credential_id,
                    employee_id=credential.employee_id,
                    public_key=credential.public_key,
                    sign_count=credential.sign_count,
                    aaguid=credential.aaguid,
                    transports=list(credential.transports),
                    backup_eligible=credential.backup_eligible,
                    backed_up=credential.backed_up,
                    user_verified=credential.user_verified,
                    attestation_format=credential.attestation_format,
                    name=check_credential_name(credential.name),
                    kind=str(credential.kind),
                    created_at=credential.created_at,
                    last_used_at=credential.last_used_at,
                )
            )
        return credential

    def get(self, credential_id: str) -> PasskeyCredential | None:
        # A Core read (no ORM unit of work): every passkey sign-in starts here.
        with self._db.connection() as c:
            row = c.execute(_BY_ID, {"credential_id": credential_id}).first()
        return None if row is None else _from_row(row)

    def list_for_employee(self, employee_id: str) -> tuple[PasskeyCredential, ...]:
        query = (
            select(PasskeyCredentialRow)
            .where(PasskeyCredentialRow.employee_id == employee_id)
            .order_by(PasskeyCredentialRow.created_at, PasskeyCredentialRow.credential_id)
        )
        with self._db.transaction() as s:
            return tuple(_from_row(r) for r in s.scalars(query))

    def record_use(
        self, credential_id: str, *, new_sign_count: int, backed_up: bool, at: dt.datetime
    ) -> None:
        """Record a successful assertion; the stored sign count never goes down.

        One conditional UPDATE, so two concurrent assertions cannot both pass with the same
        counter. Raises :class:`SignCountNotIncreased` when the counter did not rise.
        """
        require_aware(at, "at")
        if new_sign_count < 0:
            raise ValueError(f"sign count must not be negative, got {new_sign_count}")
        col = PasskeyCredentialRow
        rises = col.sign_count < new_sign_count
        no_counter = (col.sign_count == 0) & (new_sign_count == 0)
        with self._db.connection(write=True) as c:
            result = c.execute(
                update(col)
                .where(col.credential_id == credential_id, rises | no_counter)
                .values(sign_count=new_sign_count, backed_up=backed_up, last_used_at=at)
            )
            if result.rowcount == 1:
                return
            stored = c.execute(
                select(col.sign_count).where(col.credential_id == credential_id)
            ).scalar_one_or_none()
        if stored is None:
            raise CredentialNotFound(f"no credential {credential_id!r}")
        raise SignCountNotIncreased(
            f"sign count {new_sign_count} is not greater than the stored "
            f"{stored}: possible cloned authenticator",
            stored=stored,
            received=new_sign_count,
        )

    def rename(
        self, credential_id: str, name: str, *, expected_employee_id: str | None = None
    ) -> PasskeyCredential:
        cleaned = check_credential_name(name)
        with self._db.transaction(write=True) as s:
            row = _owned(s, credential_id, expected_employee_id)
            row.name = cleaned
            s.flush()
            return _from_row(row)

    def delete(self, credential_id: str, *, expected_employee_id: str | None = None) -> None:
        with self._db.transaction(write=True) as s:
            _owned(s, credential_id, expected_employee_id)
            s.execute(
                delete(PasskeyCredentialRow).where(
                    PasskeyCredentialRow.credential_id == credential_id
                )
            )
