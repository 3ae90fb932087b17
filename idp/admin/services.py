"""Every admin service, built once per process from the runtime (one per shell)."""

from __future__ import annotations

from dataclasses import dataclass

from idp.admin.accounts import AccountAdmin
from idp.admin.audit_views import AuditAdmin
from idp.admin.credential_store import AdminCredentialRepository
from idp.admin.credentials import AdminCredentialsAdmin
from idp.admin.device_service import DeviceService
from idp.admin.employee_service import EmployeeAdmin
from idp.admin.idempotency import Idempotency
from idp.admin.keys import KeyAdmin
from idp.admin.keys_accounts import KeyAccountAdmin
from idp.admin.organisation import OrganisationAdmin
from idp.admin.relying_parties import RelyingPartyCatalogue
from idp.admin.signin import SignInStores
from idp.admin.sync_runs import SyncRuns
from idp.admin.workstation_service import WorkstationService
from idp.runtime import Runtime
from idp.store.sql.repositories.admins import AdminRepository, ApiKeyRepository
from idp.vault.service import build_vault_service


@dataclass(frozen=True)
class AdminServices:
    employees: EmployeeAdmin
    accounts: AccountAdmin
    audit: AuditAdmin
    relying_parties: RelyingPartyCatalogue
    organisation: OrganisationAdmin
    idempotency: Idempotency
    credentials: AdminCredentialsAdmin
    workstations: WorkstationService
    devices: DeviceService
    sync: SyncRuns
    #: Hideez Keys and access profiles; the accounts on them and templates (idp.vault)
    keys: KeyAdmin
    key_accounts: KeyAccountAdmin
    #: what the console's password + TOTP sign-in reads and writes (idp.admin.signin)
    signin: SignInStores


def build_admin_services(runtime: Runtime) -> AdminServices:
    admins = AdminRepository(runtime.db)
    credentials = AdminCredentialRepository(runtime.db)
    vault = build_vault_service(runtime)
    return AdminServices(
        employees=EmployeeAdmin(runtime, admins),
        accounts=AccountAdmin(runtime, admins, ApiKeyRepository(runtime.db)),
        audit=AuditAdmin(runtime),
        relying_parties=RelyingPartyCatalogue(runtime),
        organisation=OrganisationAdmin(runtime),
        idempotency=Idempotency(runtime.ephemeral),
        credentials=AdminCredentialsAdmin(runtime, admins, credentials),
        workstations=WorkstationService(runtime),
        devices=DeviceService(runtime),
        sync=SyncRuns(runtime),
        keys=KeyAdmin(runtime, vault),
        key_accounts=KeyAccountAdmin(runtime, vault),
        signin=SignInStores(
            admins=admins,
            employees=runtime.employees,
            credentials=credentials,
            ephemeral=runtime.ephemeral,
            secrets=runtime.secrets,
            params=runtime.password_params,
            limits=runtime.config.passwords.limits,
        ),
    )
