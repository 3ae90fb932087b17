"""What the vault keeps in the relational database (tables on the shared ``Base``).

Secrets are ciphertexts of the secrets envelope (:class:`idp.secrets.SecretBox`), each bound
to its column and row by its AAD. Tasks are ordered by ``priority`` (profile, then OS
accounts, then the others) and then by ``id`` (the order they were queued).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.store.sql.models import ID, NAME, Base, UtcDateTime

KIND = String(32)
SERIAL = String(64)


class VaultProfileRow(Base):
    __tablename__ = "vault_profiles"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(NAME, unique=True)
    #: {"pairing": {"button":…, "pin":…, "master_key":…}, "connection": …, "storage": …}
    requirements: Mapped[dict[str, dict[str, bool]]] = mapped_column(JSON)
    pin_length: Mapped[int] = mapped_column(Integer)
    pin_expiry_seconds: Mapped[int] = mapped_column(Integer)
    pin_attempts: Mapped[int] = mapped_column(Integer)


class HardwareVaultRow(Base):
    __tablename__ = "hardware_vaults"
    serial: Mapped[str] = mapped_column(SERIAL, primary_key=True)
    mac: Mapped[str] = mapped_column(String(32), unique=True)
    model: Mapped[str] = mapped_column(NAME)
    firmware: Mapped[str] = mapped_column(String(64))
    battery: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(KIND, index=True)
    reason: Mapped[str | None] = mapped_column(KIND)
    # One key per employee; an employee holding a key cannot be deleted (no cascade).
    employee_id: Mapped[str | None] = mapped_column(ID, ForeignKey("employees.id"), unique=True)
    profile_id: Mapped[str] = mapped_column(ID, ForeignKey("vault_profiles.id"), index=True)
    master_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    activation_code: Mapped[bytes | None] = mapped_column(LargeBinary)
    code_attempts_left: Mapped[int | None] = mapped_column(Integer)
    code_expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    code_verified_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    imported_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    status_changed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    linked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class VaultSharedAccountRow(Base):
    """A shared account: each holder gets a copy (a VaultAccountRow with ``shared_id``)."""

    __tablename__ = "vault_shared_accounts"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(NAME)
    login: Mapped[str] = mapped_column(NAME)
    login_type: Mapped[str] = mapped_column(KIND)
    urls: Mapped[list[str]] = mapped_column(JSON)
    apps: Mapped[list[str]] = mapped_column(JSON)
    password: Mapped[bytes | None] = mapped_column(LargeBinary)
    otp_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class VaultAccountRow(Base):
    __tablename__ = "vault_accounts"
    __table_args__ = (Index("ix_vault_accounts_employee_deleted", "employee_id", "deleted_at"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    employee_id: Mapped[str] = mapped_column(ID, ForeignKey("employees.id", ondelete="CASCADE"))
    shared_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("vault_shared_accounts.id"), index=True
    )
    name: Mapped[str] = mapped_column(NAME)
    login: Mapped[str] = mapped_column(NAME)
    login_type: Mapped[str] = mapped_column(KIND)
    urls: Mapped[list[str]] = mapped_column(JSON)
    apps: Mapped[list[str]] = mapped_column(JSON)
    password: Mapped[bytes | None] = mapped_column(LargeBinary)
    otp_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    skip_password: Mapped[bool] = mapped_column(Boolean)
    primary: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class VaultTemplateRow(Base):
    __tablename__ = "vault_templates"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(NAME, unique=True)
    urls: Mapped[list[str]] = mapped_column(JSON)
    apps: Mapped[list[str]] = mapped_column(JSON)


class VaultTaskRow(Base):
    __tablename__ = "vault_tasks"
    __table_args__ = (Index("ix_vault_tasks_serial_order", "serial", "priority", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    serial: Mapped[str] = mapped_column(
        SERIAL, ForeignKey("hardware_vaults.serial", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(KIND)
    priority: Mapped[int] = mapped_column(Integer)
    account_id: Mapped[str | None] = mapped_column(ID)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
