"""``/api/v1``: admin accounts, API keys, the audit trail, the dashboard, relying parties."""

from __future__ import annotations

from pydantic import Field

from flask_idp.api import operation, services
from idp.admin.access import Actor, Permission, Role
from idp.admin.accounts import AccountAdmin as A
from idp.admin.accounts import (
    AdminCreate,
    AdminOut,
    AdminUpdate,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
)
from idp.admin.audit_views import AuditAdmin as Au
from idp.admin.audit_views import AuditEventOut, AuditQuery, ChainCheck, Dashboard
from idp.admin.models import Input, Items, Output, Page, check_if_match
from idp.admin.relying_parties import Protocol, RelyingPartyOut
from idp.admin.relying_parties import RelyingPartyCatalogue as R


class Me(Output):
    actor: str
    role: Role
    permissions: list[Permission]


class RelyingPartyQuery(Input):
    protocol: Protocol | None = Field(default=None)


@operation(
    "GET",
    "/me",
    summary="Who the API key acts as, and what it may do",
    tag="access",
    needs=lambda: None,
    response=Me,
)
def me(actor: Actor) -> Me:
    return Me(actor=actor.name, role=actor.role, permissions=sorted(actor.permissions()))


@operation(
    "GET",
    "/admins",
    summary="List admin accounts",
    tag="access",
    needs=A.list_admins,
    response=Items[AdminOut],
)
def list_admins(actor: Actor) -> Items[AdminOut]:
    return Items[AdminOut](items=services().accounts.list_admins(actor))


@operation(
    "POST",
    "/admins",
    summary="Make an employee an admin",
    tag="access",
    needs=A.create_admin,
    body=AdminCreate,
    response=AdminOut,
    status=201,
    idempotent=True,
    etag=True,
)
def create_admin(actor: Actor, *, body: AdminCreate) -> AdminOut:
    return services().accounts.create_admin(actor, body)


@operation(
    "GET",
    "/admins/{admin_id}",
    summary="Show an admin account",
    tag="access",
    needs=A.get_admin,
    response=AdminOut,
    etag=True,
)
def get_admin(actor: Actor, *, admin_id: str) -> AdminOut:
    return services().accounts.get_admin(actor, admin_id)


@operation(
    "PATCH",
    "/admins/{admin_id}",
    summary="Change an admin's role (If-Match)",
    tag="access",
    needs=A.set_role,
    body=AdminUpdate,
    response=AdminOut,
    if_match=True,
    etag=True,
)
def update_admin(
    actor: Actor, *, admin_id: str, body: AdminUpdate, if_match: str | None
) -> AdminOut:
    accounts = services().accounts
    check_if_match(if_match, accounts.get_admin(actor, admin_id))
    return accounts.set_role(actor, admin_id, body)


@operation(
    "DELETE",
    "/admins/{admin_id}",
    summary="Remove an admin account (and its keys)",
    tag="access",
    needs=A.remove_admin,
    status=204,
)
def delete_admin(actor: Actor, *, admin_id: str) -> None:
    services().accounts.remove_admin(actor, admin_id)


@operation(
    "GET",
    "/api-keys",
    summary="List API keys (never their secrets)",
    tag="access",
    needs=A.list_keys,
    response=Items[ApiKeyOut],
)
def list_api_keys(actor: Actor) -> Items[ApiKeyOut]:
    return Items[ApiKeyOut](items=services().accounts.list_keys(actor))


@operation(
    "POST",
    "/api-keys",
    summary="Create an API key (its secret is shown once)",
    tag="access",
    needs=A.create_key,
    body=ApiKeyCreate,
    response=ApiKeyCreated,
    status=201,
    idempotent=True,
)
def create_api_key(actor: Actor, *, body: ApiKeyCreate) -> ApiKeyCreated:
    return services().accounts.create_key(actor, body)


@operation(
    "POST",
    "/api-keys/{key_id}/revoke",
    summary="Revoke an API key",
    tag="access",
    needs=A.revoke_key,
    response=ApiKeyOut,
)
def revoke_api_key(actor: Actor, *, key_id: str) -> ApiKeyOut:
    return services().accounts.revoke_key(actor, key_id)


@operation(
    "GET",
    "/audit",
    summary="Audit events, newest first, with usernames",
    tag="audit",
    needs=Au.page,
    query=AuditQuery,
    response=Page[AuditEventOut],
)
def list_audit(actor: Actor, *, query: AuditQuery) -> Page[AuditEventOut]:
    return services().audit.page(actor, query)


@operation(
    "GET",
    "/audit/verify",
    summary="Check the audit hash chain",
    tag="audit",
    needs=Au.verify,
    response=ChainCheck,
)
def verify_audit(actor: Actor) -> ChainCheck:
    return services().audit.verify(actor)


@operation(
    "GET",
    "/dashboard",
    summary="Counts and sign-ins per hour",
    tag="audit",
    needs=Au.dashboard,
    response=Dashboard,
)
def dashboard(actor: Actor) -> Dashboard:
    admins = len(services().accounts.list_admins(actor)) if actor.may(Permission.ADMINS_READ) else 0
    return services().audit.dashboard(actor, admins=admins)


@operation(
    "GET",
    "/relying-parties",
    summary="Configured relying parties (read-only)",
    tag="relying parties",
    needs=R.all,
    query=RelyingPartyQuery,
    response=Items[RelyingPartyOut],
)
def list_relying_parties(actor: Actor, *, query: RelyingPartyQuery) -> Items[RelyingPartyOut]:
    return Items[RelyingPartyOut](
        items=services().relying_parties.all(actor, protocol=query.protocol)
    )


@operation(
    "GET",
    "/relying-parties/{rp_id}",
    summary="One relying party",
    tag="relying parties",
    needs=R.get,
    response=RelyingPartyOut,
)
def get_relying_party(actor: Actor, *, rp_id: str) -> RelyingPartyOut:
    return services().relying_parties.get(actor, rp_id)
