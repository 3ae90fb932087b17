"""The relational store: SQLAlchemy 2 models, Alembic migrations, repositories."""

from idp.store.sql.database import Database, migrate, open_database
from idp.store.sql.repositories import (
    AuditRepository,
    EmployeeRepository,
    EnrolmentRepository,
    OrganisationRepository,
    Page,
    PasskeyRepository,
    PasswordRepository,
    SecretKeyRepository,
)

__all__ = [
    "AuditRepository",
    "Database",
    "EmployeeRepository",
    "EnrolmentRepository",
    "OrganisationRepository",
    "Page",
    "PasskeyRepository",
    "PasswordRepository",
    "SecretKeyRepository",
    "migrate",
    "open_database",
]
