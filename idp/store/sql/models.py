"""The relational schema (SQLAlchemy 2 typed declarative models).

These models are internal to :mod:`idp.store.sql`: repositories convert rows to the frozen
dataclasses of :mod:`idp` and never hand ORM objects out. Every change here needs an Alembic
revision in ``migrations/versions`` (a test compares the migrated schema with these models).
Times are stored as naive UTC (:class:`UtcDateTime`) and come back timezone-aware.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from idp.store.sql.dialects import ascii_key

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID = String(64)
NAME = String(255)
EMAIL = String(320)
# WebAuthn credential ids are at most 1023 bytes: 1364 characters in base64url.
CREDENTIAL_ID = ascii_key(1400)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware in Python, naive UTC in the database (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"refusing to store naive datetime {value.isoformat()}")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class CompanyRow(Base):
    __tablename__ = "companies"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(NAME, unique=True)


class DepartmentRow(Base):
    __tablename__ = "departments"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(NAME)
    company_id: Mapped[str] = mapped_column(
        ID, ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )


class PositionRow(Base):
    __tablename__ = "positions"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(NAME, unique=True)


class GroupRow(Base):
    __tablename__ = "groups"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(NAME, unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    email: Mapped[str | None] = mapped_column(EMAIL)


class EmployeeRow(Base):
    __tablename__ = "employees"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    username: Mapped[str] = mapped_column(NAME)
    # Lower-cased copies carry the unique constraints and the case-insensitive look-ups.
    username_lower: Mapped[str] = mapped_column(NAME, unique=True)
    email: Mapped[str] = mapped_column(EMAIL)
    email_lower: Mapped[str] = mapped_column(EMAIL, unique=True)
    first_name: Mapped[str] = mapped_column(NAME)
    last_name: Mapped[str] = mapped_column(NAME)
    enabled: Mapped[bool] = mapped_column(Boolean)
    sso_mode: Mapped[str] = mapped_column(String(32))
    phone: Mapped[str | None] = mapped_column(String(64))
    company_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("companies.id", ondelete="SET NULL"), index=True
    )
    department_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("departments.id", ondelete="SET NULL"), index=True
    )
    position_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("positions.id", ondelete="SET NULL"), index=True
    )
    ad_object_guid: Mapped[str | None] = mapped_column(String(64), unique=True)
    ad_object_sid: Mapped[str | None] = mapped_column(String(184))
    entra_object_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    entra_tenant_id: Mapped[str | None] = mapped_column(String(64))
    external_ids: Mapped[dict[str, str]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class EmployeeGroupRow(Base):
    __tablename__ = "employee_groups"
    employee_id: Mapped[str] = mapped_column(
        ID, ForeignKey("employees.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[str] = mapped_column(
        ID, ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class PasskeyCredentialRow(Base):
    __tablename__ = "passkey_credentials"
    credential_id: Mapped[str] = mapped_column(CREDENTIAL_ID, primary_key=True)
    employee_id: Mapped[str] = mapped_column(
        ID, ForeignKey("employees.id", ondelete="CASCADE"), index=True
    )
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger)
    aaguid: Mapped[str] = mapped_column(String(36))
    transports: Mapped[list[str]] = mapped_column(JSON)
    backup_eligible: Mapped[bool] = mapped_column(Boolean)
    backed_up: Mapped[bool] = mapped_column(Boolean)
    user_verified: Mapped[bool] = mapped_column(Boolean)
    attestation_format: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(NAME)
    kind: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class EnrolmentLinkRow(Base):
    __tablename__ = "enrolment_links"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    employee_id: Mapped[str] = mapped_column(
        ID, ForeignKey("employees.id", ondelete="CASCADE"), index=True
    )
    created_by: Mapped[str] = mapped_column(NAME)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class AuditEventRow(Base):
    """No foreign key to employees: the trail outlives the people it mentions."""

    __tablename__ = "audit_events"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    actor: Mapped[str] = mapped_column(NAME)
    outcome: Mapped[str] = mapped_column(String(16))
    employee_id: Mapped[str | None] = mapped_column(ID, index=True)
    relying_party: Mapped[str | None] = mapped_column(String(512), index=True)
    factor: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, str]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditChainHeadRow(Base):
    """One row (id 1): the last seq and hash. Writers lock it, and it exposes truncation."""

    __tablename__ = "audit_chain_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))


class SecretKeyRow(Base):
    """Wrapped data keys (see :mod:`idp.secrets`); the plaintext key is never stored."""

    __tablename__ = "secret_keys"
    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kdf: Mapped[str] = mapped_column(String(32))
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    active: Mapped[bool] = mapped_column(Boolean)


class EmployeePasswordRow(Base):
    """The two-factor mode's first factor: an argon2id PHC string, never the password."""

    __tablename__ = "employee_passwords"
    employee_id: Mapped[str] = mapped_column(
        ID, ForeignKey("employees.id", ondelete="CASCADE"), primary_key=True
    )
    hash: Mapped[str] = mapped_column(String(255))
    set_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    failed_count: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class AdminUserRow(Base):
    """An employee who may administer the IdP, and in which role (see idp/admin/access.py).

    No cascade from employees: an employee who is an admin cannot be deleted until the admin
    account is removed (the service layer says so before the database would refuse).
    """

    __tablename__ = "admin_users"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    employee_id: Mapped[str] = mapped_column(ID, ForeignKey("employees.id"), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(NAME)


class ApiKeyRow(Base):
    """An admin's key for automation: only the SHA-256 of its secret part is stored."""

    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    admin_id: Mapped[str] = mapped_column(
        ID, ForeignKey("admin_users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(NAME)
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
