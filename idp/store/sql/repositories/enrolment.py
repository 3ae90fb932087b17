"""One-time enrolment links (rules in :mod:`idp.directory.enrolment`; storage here)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select, update

from idp.directory.enrolment import (
    LINK_LIFETIME,
    EnrolmentLink,
    check_redeemable,
    hash_token,
    issue_link,
)
from idp.store.sql.database import Database
from idp.store.sql.models import EmployeeRow, EnrolmentLinkRow
from idp.store.sql.repositories.common import require_aware
from idp.store.sql.repositories.employees import EmployeeNotFound


def _from_row(row: EnrolmentLinkRow) -> EnrolmentLink:
    return EnrolmentLink(
        token_hash=row.token_hash,
        employee_id=row.employee_id,
        created_by=row.created_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
        used_at=row.used_at,
    )


class EnrolmentRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create(
        self,
        *,
        employee_id: str,
        created_by: str,
        now: dt.datetime,
        lifetime: dt.timedelta = LINK_LIFETIME,
    ) -> tuple[str, EnrolmentLink]:
        """A new link for ``employee_id``; their earlier unused links stop working.

        The token is returned once, to put in the URL; only its hash is stored.
        """
        token, link = issue_link(
            employee_id=employee_id, created_by=created_by, now=now, lifetime=lifetime
        )
        with self._db.transaction(write=True) as s:
            if s.get(EmployeeRow, employee_id) is None:
                raise EmployeeNotFound(f"no employee {employee_id!r}")
            s.execute(
                delete(EnrolmentLinkRow).where(
                    EnrolmentLinkRow.employee_id == employee_id,
                    EnrolmentLinkRow.used_at.is_(None),
                )
            )
            s.add(
                EnrolmentLinkRow(
                    token_hash=link.token_hash,
                    employee_id=link.employee_id,
                    created_by=link.created_by,
                    created_at=link.created_at,
                    expires_at=link.expires_at,
                )
            )
        return token, link

    def peek(self, token: str, *, now: dt.datetime) -> EnrolmentLink:
        """The link if it could be redeemed now, without using it up."""
        require_aware(now, "now")
        token_hash = hash_token(token)
        with self._db.transaction() as s:
            row = s.get(EnrolmentLinkRow, token_hash)
            return check_redeemable(None if row is None else _from_row(row), now=now)

    def redeem(self, token: str, *, now: dt.datetime) -> str:
        """Use the link up and return its employee id; of two racing redeems one wins."""
        require_aware(now, "now")
        token_hash = hash_token(token)
        col = EnrolmentLinkRow
        with self._db.transaction(write=True) as s:
            result = s.execute(
                update(col)
                .where(col.token_hash == token_hash, col.used_at.is_(None), col.expires_at > now)
                .values(used_at=now)
            )
            row = s.get(col, token_hash, populate_existing=True)
            if result.rowcount == 1 and row is not None:  # type: ignore[attr-defined]
                return row.employee_id
            check_redeemable(None if row is None else _from_row(row), now=now)
        raise AssertionError("unreachable: check_redeemable refused the link")  # pragma: no cover

    def list_for_employee(self, employee_id: str) -> tuple[EnrolmentLink, ...]:
        query = (
            select(EnrolmentLinkRow)
            .where(EnrolmentLinkRow.employee_id == employee_id)
            .order_by(EnrolmentLinkRow.created_at)
        )
        with self._db.transaction() as s:
            return tuple(_from_row(r) for r in s.scalars(query))
