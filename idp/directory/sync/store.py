"""What directory sync keeps in the relational database, and how one page is applied.

``directory_links`` ties an employee to the directory object it was imported from (by the
directory's immutable key, never by name), with a fingerprint of what was applied last (an
unchanged user costs one comparison) and the run that last saw it (a resumed pass skips what
it already applied; after a complete pass, linked users the pass did not see have left the
scope). ``directory_sync_state`` holds each source's high-water mark (AD invocationId +
highestCommittedUSN, Graph deltaLink) and the pass in progress. ``directory_secrets`` holds
bind secrets encrypted with :mod:`idp.secrets`.

A page is applied in one transaction: a connection that drops in the middle of a page leaves
nothing of that page, and no employee is ever half-updated.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from idp.store.sql.database import Database
from idp.store.sql.models import (
    ID,
    Base,
    CompanyRow,
    DepartmentRow,
    EmployeeGroupRow,
    EmployeeRow,
    GroupRow,
    PositionRow,
    UtcDateTime,
)

SOURCE = String(32)


class DirectoryLinkRow(Base):
    __tablename__ = "directory_links"
    __table_args__ = (UniqueConstraint("source", "external_key", name="uq_directory_links_key"),)
    employee_id: Mapped[str] = mapped_column(
        ID, ForeignKey("employees.id", ondelete="CASCADE"), primary_key=True
    )
    source: Mapped[str] = mapped_column(SOURCE, index=True)
    external_key: Mapped[str] = mapped_column(String(64))
    dn: Mapped[str | None] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(64))
    seen_run: Mapped[str] = mapped_column(String(32))
    #: what the directory last said (a local disable by an admin stands until it changes)
    directory_enabled: Mapped[bool] = mapped_column(Boolean)
    #: the fields the directory owns for this employee (read-only for admins)
    owned_fields: Mapped[list[str]] = mapped_column(JSON)
    #: the groups the directory put the employee in (other memberships are the admin's)
    owned_groups: Mapped[list[str]] = mapped_column(JSON)


class DirectorySyncStateRow(Base):
    __tablename__ = "directory_sync_state"
    source: Mapped[str] = mapped_column(SOURCE, primary_key=True)
    invocation_id: Mapped[str | None] = mapped_column(String(64))
    highest_usn: Mapped[int | None] = mapped_column(BigInteger)
    delta_link: Mapped[str | None] = mapped_column(Text)
    #: a pass in progress: its id, its mode, and (Graph) the next page to read
    run_id: Mapped[str | None] = mapped_column(String(32))
    run_mode: Mapped[str | None] = mapped_column(String(16))
    resume_link: Mapped[str | None] = mapped_column(Text)
    last_success_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class DirectorySecretRow(Base):
    __tablename__ = "directory_secrets"
    source: Mapped[str] = mapped_column(SOURCE, primary_key=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


@dataclass(frozen=True)
class SyncState:
    source: str
    invocation_id: str | None = None
    highest_usn: int | None = None
    delta_link: str | None = None
    run_id: str | None = None
    run_mode: str | None = None
    resume_link: str | None = None
    last_success_at: dt.datetime | None = None


@dataclass(frozen=True)
class Link:
    employee_id: str
    source: str
    external_key: str
    dn: str | None
    fingerprint: str
    seen_run: str
    owned_fields: frozenset[str]
    owned_groups: tuple[str, ...]


def _link(row: DirectoryLinkRow) -> Link:
    return Link(
        row.employee_id,
        row.source,
        row.external_key,
        row.dn,
        row.fingerprint,
        row.seen_run,
        frozenset(row.owned_fields),
        tuple(row.owned_groups),
    )


def new_run_id() -> str:
    return secrets.token_hex(8)


class SyncStore:
    """State, links and secrets of directory sync; each method is one transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def state(self, source: str) -> SyncState:
        with self.db.transaction() as s:
            row = s.get(DirectorySyncStateRow, source)
            if row is None:
                return SyncState(source)
            return SyncState(
                row.source,
                row.invocation_id,
                row.highest_usn,
                row.delta_link,
                row.run_id,
                row.run_mode,
                row.resume_link,
                row.last_success_at,
            )

    def save_state(self, state: SyncState) -> None:
        with self.db.transaction(write=True) as s:
            save_state(s, state)

    def link_for(self, employee_id: str) -> Link | None:
        with self.db.transaction() as s:
            row = s.get(DirectoryLinkRow, employee_id)
            return None if row is None else _link(row)

    def link_by_key(self, source: str, key: str) -> Link | None:
        with self.db.transaction() as s:
            query = select(DirectoryLinkRow).where(
                DirectoryLinkRow.source == source, DirectoryLinkRow.external_key == key
            )
            row = s.scalars(query).first()
            return None if row is None else _link(row)

    def links(self, source: str) -> list[Link]:
        with self.db.transaction() as s:
            query = select(DirectoryLinkRow).where(DirectoryLinkRow.source == source)
            return [_link(r) for r in s.scalars(query)]

    def not_seen(self, source: str, run_id: str) -> list[Link]:
        """Links of ``source`` a complete pass ``run_id`` did not see: they left the scope."""
        with self.db.transaction() as s:
            query = select(DirectoryLinkRow).where(
                DirectoryLinkRow.source == source, DirectoryLinkRow.seen_run != run_id
            )
            return [_link(r) for r in s.scalars(query)]

    def owned(self, employee_id: str) -> tuple[str, frozenset[str]] | None:
        """(source, owned fields) of an imported employee, for the admin edits' read-only rule."""
        link = self.link_for(employee_id)
        return None if link is None else (link.source, link.owned_fields)

    def unlink(self, employee_id: str) -> None:
        with self.db.transaction(write=True) as s:
            s.execute(delete(DirectoryLinkRow).where(DirectoryLinkRow.employee_id == employee_id))

    def put_secret(self, source: str, ciphertext: bytes, *, now: dt.datetime) -> None:
        with self.db.transaction(write=True) as s:
            row = s.get(DirectorySecretRow, source, with_for_update=True)
            if row is None:
                s.add(DirectorySecretRow(source=source, ciphertext=ciphertext, updated_at=now))
            else:
                row.ciphertext, row.updated_at = ciphertext, now

    def secret(self, source: str) -> bytes | None:
        with self.db.transaction() as s:
            row = s.get(DirectorySecretRow, source)
            return None if row is None else bytes(row.ciphertext)


def save_state(s: Session, state: SyncState) -> None:
    row = s.get(DirectorySyncStateRow, state.source, with_for_update=True)
    if row is None:
        row = DirectorySyncStateRow(source=state.source)
        s.add(row)
    row.invocation_id, row.highest_usn, row.delta_link = (
        state.invocation_id,
        state.highest_usn,
        state.delta_link,
    )
    row.run_id, row.run_mode, row.resume_link = state.run_id, state.run_mode, state.resume_link
    row.last_success_at = state.last_success_at


def links_by_key(s: Session, source: str, keys: Sequence[str]) -> dict[str, DirectoryLinkRow]:
    if not keys:
        return {}
    query = select(DirectoryLinkRow).where(
        DirectoryLinkRow.source == source, DirectoryLinkRow.external_key.in_(keys)
    )
    return {row.external_key: row for row in s.scalars(query)}


def mark_seen(s: Session, employee_ids: Iterable[str], run_id: str) -> None:
    ids = list(employee_ids)
    if ids:
        s.execute(
            update(DirectoryLinkRow)
            .where(DirectoryLinkRow.employee_id.in_(ids))
            .values(seen_run=run_id)
        )


@dataclass
class OrgCache:
    """Companies, departments, positions and groups by name, made on first use in a run."""

    companies: dict[str, str] = field(default_factory=dict)
    departments: dict[tuple[str, str], str] = field(default_factory=dict)
    positions: dict[str, str] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)
    loaded: bool = False

    def load(self, s: Session) -> None:
        if self.loaded:
            return
        self.companies = {r.name.lower(): r.id for r in s.scalars(select(CompanyRow))}
        self.departments = {
            (r.company_id, r.name.lower()): r.id for r in s.scalars(select(DepartmentRow))
        }
        self.positions = {r.name.lower(): r.id for r in s.scalars(select(PositionRow))}
        self.groups = {r.name.lower(): r.id for r in s.scalars(select(GroupRow))}
        self.loaded = True

    def forget(self) -> None:
        """After a rolled-back page: what it made is gone."""
        self.loaded = False

    def company(self, s: Session, name: str | None) -> str | None:
        if not name:
            return None
        if (found := self.companies.get(name.lower())) is None:
            found = self.companies[name.lower()] = secrets.token_hex(8)
            s.execute(insert(CompanyRow).values(id=found, name=name[:255]))
        return found

    def department(self, s: Session, company_id: str | None, name: str | None) -> str | None:
        if not name or company_id is None:
            return None
        if (found := self.departments.get((company_id, name.lower()))) is None:
            found = self.departments[(company_id, name.lower())] = secrets.token_hex(8)
            s.execute(
                insert(DepartmentRow).values(id=found, name=name[:255], company_id=company_id)
            )
        return found

    def position(self, s: Session, name: str | None) -> str | None:
        if not name:
            return None
        if (found := self.positions.get(name.lower())) is None:
            found = self.positions[name.lower()] = secrets.token_hex(8)
            s.execute(insert(PositionRow).values(id=found, name=name[:255]))
        return found

    def group(self, s: Session, name: str) -> str:
        if (found := self.groups.get(name.lower())) is None:
            found = self.groups[name.lower()] = secrets.token_hex(8)
            s.execute(
                insert(GroupRow).values(
                    id=found, name=name[:255], description="from the directory", email=None
                )
            )
        return found


def set_groups(
    s: Session,
    pending: list[Base],
    employee_id: str,
    previous: Sequence[str],
    wanted: Sequence[str],
    current: set[str],
) -> None:
    """Replace the directory's memberships (``previous``) by ``wanted``; keep the admin's."""
    gone = set(previous) - set(wanted)
    if gone:
        s.execute(
            delete(EmployeeGroupRow).where(
                EmployeeGroupRow.employee_id == employee_id, EmployeeGroupRow.group_id.in_(gone)
            )
        )
    pending.extend(
        EmployeeGroupRow(employee_id=employee_id, group_id=g) for g in sorted(set(wanted) - current)
    )


def memberships(s: Session, employee_ids: Sequence[str]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {i: set() for i in employee_ids}
    if employee_ids:
        query = select(EmployeeGroupRow).where(EmployeeGroupRow.employee_id.in_(employee_ids))
        for row in s.scalars(query):
            found[row.employee_id].add(row.group_id)
    return found


def employees_by(s: Session, column: str, values: Iterable[str]) -> dict[str, EmployeeRow]:
    wanted = [v for v in set(values) if v]
    if not wanted:
        return {}
    attribute = getattr(EmployeeRow, column)
    rows = s.scalars(select(EmployeeRow).where(attribute.in_(wanted)))
    return {getattr(r, column): r for r in rows}
