"""The vault's rows behind one transaction object: :class:`VaultStore` opens a transaction
and hands out a :class:`VaultTx`, whose methods read and change rows inside it.

The service (:mod:`idp.vault.service`) runs each action in one ``with store.write() as tx``;
rows never leave this module and the service: callers get the frozen objects of
:mod:`idp.vault.model`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import ColumnElement, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp.store.sql.database import Database
from idp.store.sql.models import EmployeeRow
from idp.store.sql.repositories.common import like_pattern
from idp.vault.errors import (
    AccountNotFound,
    ConcurrentChange,
    KeyNotFound,
    ProfileNotFound,
    TemplateNotFound,
)
from idp.vault.model import (
    AccessProfile,
    Account,
    LoginType,
    Requirement,
    TaskKind,
    Template,
    Vault,
)
from idp.vault.states import VaultReason, VaultStatus
from idp.vault.tables import (
    HardwareVaultRow,
    VaultAccountRow,
    VaultProfileRow,
    VaultSharedAccountRow,
    VaultTaskRow,
    VaultTemplateRow,
)

#: statuses whose key still belongs to its employee and receives the employee's tasks
HOLDING = (VaultStatus.RESERVED, VaultStatus.ACTIVE, VaultStatus.LOCKED, VaultStatus.SUSPENDED)
_STAGES = ("pairing", "connection", "storage")
MAX_SERIAL = 64
#: the orders :meth:`VaultStore.list_vaults` offers
_SORTS = {
    "serial": HardwareVaultRow.serial,
    "status_changed_at": HardwareVaultRow.status_changed_at,
}


def task_priority(kind: TaskKind, login_type: LoginType | None) -> int:
    """Profile first, then everything about OS accounts, then the others (WebApp)."""
    if kind is TaskKind.PROFILE:
        return 0
    return 1 if login_type is None or login_type.is_os else 2


def vault_from_row(row: HardwareVaultRow, pending: int = 0) -> Vault:
    return Vault(
        serial=row.serial,
        mac=row.mac,
        model=row.model,
        firmware=row.firmware,
        status=VaultStatus(row.status),
        reason=VaultReason(row.reason) if row.reason else None,
        profile_id=row.profile_id,
        employee_id=row.employee_id,
        battery=row.battery,
        imported_at=row.imported_at,
        status_changed_at=row.status_changed_at,
        last_seen_at=row.last_seen_at,
        linked_at=row.linked_at,
        has_master_key=row.master_key is not None,
        code_attempts_left=row.code_attempts_left,
        code_expires_at=row.code_expires_at,
        pending_tasks=pending,
    )


def profile_from_row(row: VaultProfileRow) -> AccessProfile:
    req = row.requirements
    return AccessProfile(
        id=row.id,
        name=row.name,
        pairing=Requirement(**req["pairing"]),
        connection=Requirement(**req["connection"]),
        storage=Requirement(**req["storage"]),
        pin_length=row.pin_length,
        pin_expiry=dt.timedelta(seconds=row.pin_expiry_seconds),
        pin_attempts=row.pin_attempts,
    )


def write_profile(row: VaultProfileRow, profile: AccessProfile) -> None:
    row.name = profile.name
    row.requirements = {
        stage: {
            "button": getattr(profile, stage).button,
            "pin": getattr(profile, stage).pin,
            "master_key": getattr(profile, stage).master_key,
        }
        for stage in _STAGES
    }
    row.pin_length = profile.pin_length
    row.pin_expiry_seconds = int(profile.pin_expiry.total_seconds())
    row.pin_attempts = profile.pin_attempts


def account_from_row(row: VaultAccountRow | VaultSharedAccountRow) -> Account:
    personal = row if isinstance(row, VaultAccountRow) else None
    return Account(
        id=row.id,
        employee_id=personal.employee_id if personal else None,
        shared_id=personal.shared_id if personal else None,
        name=row.name,
        login=row.login,
        login_type=LoginType(row.login_type),
        urls=tuple(row.urls),
        apps=tuple(row.apps),
        has_password=row.password is not None,
        has_otp=row.otp_secret is not None,
        skip_password=personal.skip_password if personal else False,
        primary=personal.primary if personal else False,
        created_at=row.created_at,
        updated_at=row.updated_at,
        deleted_at=row.deleted_at,
    )


def template_from_row(row: VaultTemplateRow) -> Template:
    return Template(id=row.id, name=row.name, urls=tuple(row.urls), apps=tuple(row.apps))


class VaultTx:
    """Row access inside one transaction (locks rows it is about to change)."""

    def __init__(self, session: Session) -> None:
        self.s = session

    # -- keys --------------------------------------------------------------------------------

    def vault(self, serial: str) -> HardwareVaultRow:
        row = self.find_vault(serial)
        if row is None:
            raise KeyNotFound(f"no key with serial {serial[:MAX_SERIAL]!r}")
        return row

    def find_vault(self, serial: str) -> HardwareVaultRow | None:
        """Serials are stored upper-case (as imported); a longer one names no key."""
        wanted = serial.strip().upper()
        if not wanted or len(wanted) > MAX_SERIAL:
            return None
        return self.s.get(HardwareVaultRow, wanted, with_for_update=True)

    def vault_of(self, employee_id: str) -> HardwareVaultRow | None:
        query = select(HardwareVaultRow).where(HardwareVaultRow.employee_id == employee_id)
        return self.s.scalars(query.with_for_update()).first()

    def holding_vault(self, employee_id: str) -> HardwareVaultRow | None:
        """The employee's key if it still receives their accounts."""
        row = self.vault_of(employee_id)
        return row if row is not None and VaultStatus(row.status) in HOLDING else None

    def vault_exists(self, serial: str, mac: str) -> bool:
        query = select(func.count()).where(
            (HardwareVaultRow.serial == serial) | (HardwareVaultRow.mac == mac)
        )
        return bool(self.s.scalar(query))

    def pending(self, serial: str) -> int:
        query = select(func.count()).where(VaultTaskRow.serial == serial)
        return self.s.scalar(query) or 0

    def view(self, row: HardwareVaultRow) -> Vault:
        self.s.flush()
        return vault_from_row(row, self.pending(row.serial))

    # -- profiles ----------------------------------------------------------------------------

    def profile(self, profile_id: str) -> VaultProfileRow:
        row = self.s.get(VaultProfileRow, profile_id)
        if row is None:
            raise ProfileNotFound(f"no access profile {profile_id!r}")
        return row

    def profile_named(self, name: str) -> VaultProfileRow:
        query = select(VaultProfileRow).where(func.lower(VaultProfileRow.name) == name.lower())
        row = self.s.scalars(query).first()
        if row is None:
            raise ProfileNotFound(f"no access profile named {name!r}")
        return row

    def profiles(self) -> Sequence[VaultProfileRow]:
        return self.s.scalars(select(VaultProfileRow).order_by(VaultProfileRow.name)).all()

    def profile_users(self, profile_id: str) -> Sequence[HardwareVaultRow]:
        query = select(HardwareVaultRow).where(HardwareVaultRow.profile_id == profile_id)
        return self.s.scalars(query.with_for_update()).all()

    # -- accounts ----------------------------------------------------------------------------

    def account(self, account_id: str) -> VaultAccountRow:
        row = self.s.get(VaultAccountRow, account_id, with_for_update=True)
        if row is None or row.deleted_at is not None:
            raise AccountNotFound(f"no account {account_id!r}")
        return row

    def accounts_of(self, employee_id: str) -> Sequence[VaultAccountRow]:
        query = select(VaultAccountRow).where(
            VaultAccountRow.employee_id == employee_id, VaultAccountRow.deleted_at.is_(None)
        )
        return self.s.scalars(query.order_by(VaultAccountRow.name, VaultAccountRow.id)).all()

    def shared(self, shared_id: str) -> VaultSharedAccountRow:
        row = self.s.get(VaultSharedAccountRow, shared_id, with_for_update=True)
        if row is None or row.deleted_at is not None:
            raise AccountNotFound(f"no shared account {shared_id!r}")
        return row

    def shared_accounts(self) -> Sequence[VaultSharedAccountRow]:
        query = select(VaultSharedAccountRow).where(VaultSharedAccountRow.deleted_at.is_(None))
        return self.s.scalars(query.order_by(VaultSharedAccountRow.name)).all()

    def copies(self, shared_id: str) -> Sequence[VaultAccountRow]:
        query = select(VaultAccountRow).where(
            VaultAccountRow.shared_id == shared_id, VaultAccountRow.deleted_at.is_(None)
        )
        return self.s.scalars(query.order_by(VaultAccountRow.id).with_for_update()).all()

    # -- templates ---------------------------------------------------------------------------

    def template_named(self, name: str) -> VaultTemplateRow:
        query = select(VaultTemplateRow).where(func.lower(VaultTemplateRow.name) == name.lower())
        row = self.s.scalars(query).first()
        if row is None:
            raise TemplateNotFound(f"no account template named {name!r}")
        return row

    def templates(self) -> Sequence[VaultTemplateRow]:
        return self.s.scalars(select(VaultTemplateRow).order_by(VaultTemplateRow.name)).all()

    # -- tasks -------------------------------------------------------------------------------

    def queue(
        self,
        serial: str,
        kind: TaskKind,
        *,
        now: dt.datetime,
        account_id: str | None = None,
        login_type: LoginType | None = None,
    ) -> None:
        """Queue a task unless the same one is pending: the payload is read at delivery, so
        one pending Update (or Profile, …) carries every later edit too."""
        same = select(VaultTaskRow.id).where(
            VaultTaskRow.serial == serial,
            VaultTaskRow.kind == kind.value,
            VaultTaskRow.account_id.is_(None)
            if account_id is None
            else VaultTaskRow.account_id == account_id,
        )
        if self.s.scalar(same) is not None:
            return
        if kind is TaskKind.UPDATE:
            created = select(VaultTaskRow.id).where(
                VaultTaskRow.serial == serial,
                VaultTaskRow.kind == TaskKind.CREATE.value,
                VaultTaskRow.account_id == account_id,
            )
            if self.s.scalar(created) is not None:  # the Create delivers the edit
                return
        self.s.add(
            VaultTaskRow(
                serial=serial,
                kind=kind.value,
                priority=task_priority(kind, login_type),
                account_id=account_id,
                created_at=now,
            )
        )

    def drop_tasks(self, serial: str, *, account_id: str | None = None) -> None:
        query = delete(VaultTaskRow).where(VaultTaskRow.serial == serial)
        if account_id is not None:
            query = query.where(VaultTaskRow.account_id == account_id)
        self.s.execute(query)

    def tasks(self, serial: str) -> Sequence[VaultTaskRow]:
        query = select(VaultTaskRow).where(VaultTaskRow.serial == serial)
        return self.s.scalars(query.order_by(VaultTaskRow.priority, VaultTaskRow.id)).all()

    def task(self, serial: str, task_id: int) -> VaultTaskRow | None:
        if not 0 < task_id < 2**31:  # an id the column cannot hold names no task
            return None
        row = self.s.get(VaultTaskRow, task_id, with_for_update=True)
        return row if row is not None and row.serial == serial.strip().upper() else None


def _serial_or_holder(text: str) -> ColumnElement[bool]:
    pattern = like_pattern(text)
    holders = select(EmployeeRow.id).where(
        or_(
            EmployeeRow.username_lower.like(pattern, escape="\\"),
            func.lower(EmployeeRow.first_name + " " + EmployeeRow.last_name).like(
                pattern, escape="\\"
            ),
        )
    )
    return or_(
        func.lower(HardwareVaultRow.serial).like(pattern, escape="\\"),
        HardwareVaultRow.employee_id.in_(holders),
    )


class VaultStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    @contextmanager
    def write(self) -> Iterator[VaultTx]:
        """One write transaction. Two concurrent writers that both passed their checks (two
        admins assigning keys to one employee on PostgreSQL) meet at a unique constraint: the
        later one is refused as a conflict, not with the driver's error."""
        try:
            with self._db.transaction(write=True) as session:
                yield VaultTx(session)
        except IntegrityError:
            raise ConcurrentChange(
                "another change to the same key, employee or name was stored at the same "
                "time; nothing of this one was stored (look again, then retry)"
            ) from None

    @contextmanager
    def read(self) -> Iterator[VaultTx]:
        with self._db.transaction() as session:
            yield VaultTx(session)

    def pending_tasks(self) -> int:
        """Tasks queued for every key (one indexed count; the link server's gauge)."""
        with self.read() as tx:
            return tx.s.scalar(select(func.count()).select_from(VaultTaskRow)) or 0

    def list_vaults(
        self,
        *,
        status: VaultStatus | None = None,
        employee_id: str | None = None,
        text: str | None = None,
        sort: str = "serial",
        descending: bool = False,
        offset: int = 0,
        limit: int = 100,
    ) -> tuple[Vault, ...]:
        """Keys by ``sort`` (``serial`` or ``status_changed_at``, ties by serial); ``text``:
        the serial or the holder's username or name contains it, any case."""
        query = select(HardwareVaultRow)
        if status is not None:
            query = query.where(HardwareVaultRow.status == status.value)
        if employee_id is not None:
            query = query.where(HardwareVaultRow.employee_id == employee_id)
        if text and text.strip():
            query = query.where(_serial_or_holder(text.strip()))
        column = _SORTS[sort]
        order = (column.desc(), HardwareVaultRow.serial.desc()) if descending else (column,)
        counts = (
            select(VaultTaskRow.serial, func.count().label("n"))
            .group_by(VaultTaskRow.serial)
            .subquery()
        )
        with self._db.transaction() as s:
            rows = s.execute(
                query.add_columns(counts.c.n)
                .outerjoin(counts, counts.c.serial == HardwareVaultRow.serial)
                .order_by(*order, HardwareVaultRow.serial)
                .offset(offset)
                .limit(limit)
            ).all()
            return tuple(vault_from_row(row, n or 0) for row, n in rows)
