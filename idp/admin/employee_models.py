"""Request and response shapes of the employee resource (and of what hangs off it)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from idp.admin.employees import EMAIL, GUID, USERNAME
from idp.admin.models import Input, Output
from idp.directory.model import Employee, SsoMode
from idp.factors.registry import PasskeyCredential
from idp.oidc.logout_channels import OidcParticipant
from idp.saml.logout import SessionParticipant
from idp.sessions import SessionSummary
from idp.wsfed.signout import participant_name

SortKey = Literal[
    "username",
    "-username",
    "email",
    "-email",
    "last_name",
    "-last_name",
    "created_at",
    "-created_at",
]
_NAME = Field(default=None, max_length=100)
_GUID = Field(default=None, pattern=f"^({GUID.pattern})?$", description="a GUID; empty removes it")


class EmployeeOut(Output):
    id: str
    username: str
    email: str
    first_name: str
    last_name: str
    phone: str | None
    enabled: bool
    sso_mode: SsoMode
    entra_object_id: str | None
    entra_tenant_id: str | None
    ad_object_guid: str | None
    ad_object_sid: str | None
    external_ids: dict[str, str]
    groups: list[str]
    created_at: dt.datetime | None

    @classmethod
    def of(cls, e: Employee) -> EmployeeOut:
        return cls(
            id=e.id,
            username=e.username,
            email=e.email,
            first_name=e.first_name,
            last_name=e.last_name,
            phone=e.phone,
            enabled=e.enabled,
            sso_mode=e.sso_mode,
            entra_object_id=e.entra_object_id,
            entra_tenant_id=e.entra_tenant_id,
            ad_object_guid=e.ad_object_guid,
            ad_object_sid=e.ad_object_sid,
            external_ids=dict(e.external_ids),
            groups=list(e.groups),
            created_at=e.created_at,
        )


class EmployeeFields(Input):
    """Fields an admin may set; ``null``/absent leaves a field alone, ``""`` clears an
    optional one. ``id``, ``created_at``, ``groups`` and ``enabled`` are not writable here
    (enable/disable have their own actions, groups come from the directory)."""

    first_name: str | None = _NAME
    last_name: str | None = _NAME
    phone: str | None = Field(default=None, max_length=40)
    entra_object_id: str | None = _GUID
    entra_tenant_id: str | None = _GUID
    ad_object_guid: str | None = _GUID
    ad_object_sid: str | None = Field(default=None, max_length=184)
    external_ids: dict[str, str] = Field(
        default_factory=dict, max_length=32, description='NAME → value; a "" value removes it'
    )
    sso_mode: SsoMode | None = None


class EmployeeCreate(EmployeeFields):
    username: str = Field(max_length=128, pattern=f"^{USERNAME.pattern}$")
    email: str = Field(max_length=320, pattern=f"^{EMAIL.pattern}$")


class EmployeeUpdate(EmployeeFields):
    email: str | None = Field(default=None, max_length=320, pattern=f"^{EMAIL.pattern}$")


class EmployeeQuery(Input):
    search: str | None = Field(
        default=None, max_length=100, description="part of the username, e-mail or name, any case"
    )
    enabled: bool | None = None
    sso_mode: SsoMode | None = None
    sort: SortKey = Field(default="username", description="a field, '-' first for descending")
    cursor: str | None = Field(default=None, max_length=512)
    limit: int = Field(default=50, ge=1, le=500)


class FactorUseOut(Output):
    kind: str
    at: dt.datetime
    user_verified: bool


class SessionOut(Output):
    handle: str = Field(description="names the session; it is not the session cookie")
    created_at: dt.datetime
    auth_time: dt.datetime
    factors: list[FactorUseOut]
    relying_parties: list[str]

    @classmethod
    def of(cls, s: SessionSummary) -> SessionOut:
        return cls(
            handle=s.handle,
            created_at=s.created_at,
            auth_time=s.auth_time,
            factors=[
                FactorUseOut(kind=f.kind.value, at=f.at, user_verified=f.user_verified)
                for f in s.factors
            ],
            relying_parties=sorted({n for n in map(relying_party_of, s.participants) if n}),
        )


def relying_party_of(participant: str) -> str | None:
    """The SAML entity id, OIDC client id or WS-Fed relying party a session participant names.

    Each protocol encodes its participants its own way (SAML as JSON, since entity ids and
    NameIDs may hold any separator); only its own decoder reads them right.
    """
    saml = SessionParticipant.decode(participant)
    if saml is not None:
        return saml.entity_id
    oidc = OidcParticipant.decode(participant)
    if oidc is not None:
        return oidc.client_id
    return participant_name(participant)


class SessionsEnded(Output):
    ended: int


class PasswordState(Output):
    """The two-factor mode's password: whether one is set and whether wrong ones locked it."""

    set: bool
    set_at: dt.datetime | None
    failed_attempts: int
    locked_until: dt.datetime | None
    #: whether this request lifted a lock (the unlock action only)
    unlocked: bool = False


class PasskeyOut(Output):
    credential_id: str
    name: str
    aaguid: str
    kind: str
    transports: list[str]
    backup_eligible: bool
    backed_up: bool
    user_verified: bool
    created_at: dt.datetime
    last_used_at: dt.datetime | None

    @classmethod
    def of(cls, p: PasskeyCredential) -> PasskeyOut:
        return cls(
            credential_id=p.credential_id,
            name=p.name,
            aaguid=p.aaguid,
            kind=p.kind.value,
            transports=list(p.transports),
            backup_eligible=p.backup_eligible,
            backed_up=p.backed_up,
            user_verified=p.user_verified,
            created_at=p.created_at,
            last_used_at=p.last_used_at,
        )


class EnrolmentLinkOut(Output):
    url: str = Field(description="the one-time link to send the employee (shown once)")
    expires_at: dt.datetime
