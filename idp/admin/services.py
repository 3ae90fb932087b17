"""Every admin service, built once per process from the runtime (one per shell)."""

from __future__ import annotations

from dataclasses import dataclass

from idp.admin.accounts import AccountAdmin
from idp.admin.audit_views import AuditAdmin
from idp.admin.employee_service import EmployeeAdmin
from idp.admin.idempotency import Idempotency
from idp.admin.organisation import OrganisationAdmin
from idp.admin.relying_parties import RelyingPartyCatalogue
from idp.runtime import Runtime
from idp.store.sql.repositories.admins import AdminRepository, ApiKeyRepository


@dataclass(frozen=True)
class AdminServices:
    employees: EmployeeAdmin
    accounts: AccountAdmin
    audit: AuditAdmin
    relying_parties: RelyingPartyCatalogue
    organisation: OrganisationAdmin
    idempotency: Idempotency


def build_admin_services(runtime: Runtime) -> AdminServices:
    admins = AdminRepository(runtime.db)
    return AdminServices(
        employees=EmployeeAdmin(runtime, admins),
        accounts=AccountAdmin(runtime, admins, ApiKeyRepository(runtime.db)),
        audit=AuditAdmin(runtime),
        relying_parties=RelyingPartyCatalogue(runtime),
        organisation=OrganisationAdmin(runtime),
        idempotency=Idempotency(runtime.ephemeral),
    )
