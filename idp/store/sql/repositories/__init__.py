"""Repositories: plain classes over a :class:`~idp.store.sql.database.Database`.

Each method runs in one transaction and returns the frozen dataclasses of :mod:`idp`.
"""

from idp.store.sql.repositories.audit import AuditRepository
from idp.store.sql.repositories.common import Page
from idp.store.sql.repositories.employees import (
    DuplicateEmployee,
    EmployeeNotFound,
    EmployeeRepository,
    UnknownGroup,
)
from idp.store.sql.repositories.enrolment import EnrolmentRepository
from idp.store.sql.repositories.organisation import (
    DuplicateOrganisationUnit,
    OrganisationRepository,
    UnknownCompany,
)
from idp.store.sql.repositories.passkeys import (
    CredentialNotFound,
    DuplicateCredential,
    PasskeyRepository,
    SignCountNotIncreased,
)
from idp.store.sql.repositories.passwords import PasswordRepository
from idp.store.sql.repositories.secret_keys import (
    DataKeyNotFound,
    DuplicateDataKey,
    SecretKeyRepository,
)

__all__ = [
    "AuditRepository",
    "CredentialNotFound",
    "DataKeyNotFound",
    "DuplicateCredential",
    "DuplicateDataKey",
    "DuplicateEmployee",
    "DuplicateOrganisationUnit",
    "EmployeeNotFound",
    "EmployeeRepository",
    "EnrolmentRepository",
    "OrganisationRepository",
    "Page",
    "PasskeyRepository",
    "PasswordRepository",
    "SecretKeyRepository",
    "SignCountNotIncreased",
    "UnknownCompany",
    "UnknownGroup",
]
