"""Request and response shapes of the Hideez Key resources: keys, access profiles, key
accounts (personal and shared) and account templates.

They mirror :mod:`idp.vault.model`; no output ever carries a password, an OTP secret or a
master key (only whether one is set). The one secret an output carries is a fresh activation
code (:class:`KeyCodeOut`), shown once: an idempotent replay returns it empty.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field

from idp.admin.models import Input, Output
from idp.vault.model import (
    DEFAULT_PROFILE_ID,
    AccessProfile,
    Account,
    LoginType,
    PendingTask,
    Requirement,
    TaskKind,
    Template,
    Vault,
)
from idp.vault.states import VaultReason, VaultStatus

Url = Annotated[str, Field(max_length=2048)]
AppName = Annotated[str, Field(max_length=255)]
KeySort = Literal["serial", "-serial", "status_changed_at", "-status_changed_at"]
_ID = Field(min_length=1, max_length=64)
_NAME = Field(min_length=1, max_length=100)
_LOGIN = Field(min_length=1, max_length=255)
_URLS = Field(
    default=None, max_length=32, description="http(s) URLs; github.com means https://github.com"
)
_APPS = Field(default=None, max_length=32, description="application names")
_PASSWORD = Field(
    default=None, max_length=256, description="write-only: never returned, needs `secrets`"
)
_OTP = Field(
    default=None,
    max_length=512,
    description="write-only base32 secret or otpauth:// URI; never returned, needs `secrets`",
)


class KeyOut(Output):
    serial: str
    mac: str
    model: str
    firmware: str
    status: VaultStatus
    reason: VaultReason | None
    profile_id: str
    employee_id: str | None
    employee_username: str | None = Field(description="the holder's username, if any")
    battery: int | None
    imported_at: dt.datetime
    status_changed_at: dt.datetime
    last_seen_at: dt.datetime | None
    linked_at: dt.datetime | None
    has_master_key: bool
    code_attempts_left: int | None
    code_expires_at: dt.datetime | None
    pending_tasks: int

    @classmethod
    def of(cls, v: Vault, username: str | None) -> KeyOut:
        return cls(
            serial=v.serial, mac=v.mac, model=v.model, firmware=v.firmware, status=v.status,
            reason=v.reason, profile_id=v.profile_id, employee_id=v.employee_id,
            employee_username=username, battery=v.battery, imported_at=v.imported_at,
            status_changed_at=v.status_changed_at, last_seen_at=v.last_seen_at,
            linked_at=v.linked_at, has_master_key=v.has_master_key,
            code_attempts_left=v.code_attempts_left, code_expires_at=v.code_expires_at,
            pending_tasks=v.pending_tasks,
        )  # fmt: skip


class TaskOut(Output):
    id: int
    kind: TaskKind
    account_id: str | None
    created_at: dt.datetime

    @classmethod
    def of(cls, t: PendingTask) -> TaskOut:
        return cls(id=t.id, kind=t.kind, account_id=t.account_id, created_at=t.created_at)


class KeyAccountOut(Output):
    """An account on a key: personal, or a holder's copy of a shared one (``shared_id``)."""

    id: str
    employee_id: str | None
    shared_id: str | None
    name: str
    login: str
    login_type: LoginType
    urls: list[str]
    apps: list[str]
    has_password: bool
    has_otp: bool
    skip_password: bool
    primary: bool
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, a: Account) -> KeyAccountOut:
        return cls(
            id=a.id, employee_id=a.employee_id, shared_id=a.shared_id, name=a.name,
            login=a.login, login_type=a.login_type, urls=list(a.urls), apps=list(a.apps),
            has_password=a.has_password, has_otp=a.has_otp, skip_password=a.skip_password,
            primary=a.primary, created_at=a.created_at, updated_at=a.updated_at,
        )  # fmt: skip


class KeyDetailOut(Output):
    """A key with its pending tasks and its holder's accounts (what ``GET`` shows)."""

    key: KeyOut
    tasks: list[TaskOut]
    accounts: list[KeyAccountOut]


class KeyQuery(Input):
    status: VaultStatus | None = None
    employee_id: str | None = Field(default=None, max_length=64, description="the holder")
    q: str | None = Field(
        default=None, max_length=128,
        description="the serial or the holder's username or name contains this (any case)",
    )  # fmt: skip
    sort: KeySort = Field(default="serial", description="a field, '-' first for descending")
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=512)


class KeyImportItem(Input):
    serial: str = _ID
    mac: str = Field(min_length=1, max_length=32, description="AA:BB:CC:DD:EE:FF")
    model: str = _NAME
    firmware: str = Field(min_length=1, max_length=64)


class KeyImportIn(Input):
    """Keys to add as Ready: all or nothing (a known serial or MAC refuses the list)."""

    keys: list[KeyImportItem] = Field(min_length=1, max_length=500)


class AssignIn(Input):
    employee_id: str = _ID


class KeyCodeOut(Output):
    key: KeyOut
    activation_code: str = Field(
        description="the 6-digit code to give the employee, shown this once (empty in an "
        "idempotent replay)"
    )

    def redacted(self) -> KeyCodeOut:
        return self.model_copy(update={"activation_code": ""})


class DeactivateIn(Input):
    reason: Literal["withdrawal", "lost", "stolen", "broken"]


class KeyProfileSet(Input):
    profile_id: str = _ID


class RequirementModel(Input):
    """What a stage asks of the holder. (An input model: it is also part of outputs.)"""

    button: bool = False
    pin: bool = False
    master_key: bool = False

    def requirement(self) -> Requirement:
        return Requirement(button=self.button, pin=self.pin, master_key=self.master_key)

    @classmethod
    def of(cls, r: Requirement) -> RequirementModel:
        return cls(button=r.button, pin=r.pin, master_key=r.master_key)


class ProfileOut(Output):
    id: str
    name: str
    default: bool = Field(description="the default profile: every key starts with it")
    pairing: RequirementModel
    connection: RequirementModel
    storage: RequirementModel
    pin_length: int
    pin_expiry_seconds: int
    pin_attempts: int

    @classmethod
    def of(cls, p: AccessProfile) -> ProfileOut:
        return cls(
            id=p.id, name=p.name, default=p.id == DEFAULT_PROFILE_ID,
            pairing=RequirementModel.of(p.pairing),
            connection=RequirementModel.of(p.connection),
            storage=RequirementModel.of(p.storage), pin_length=p.pin_length,
            pin_expiry_seconds=int(p.pin_expiry.total_seconds()), pin_attempts=p.pin_attempts,
        )  # fmt: skip


class ProfileUpdate(Input):
    """Absent fields keep their value."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    pairing: RequirementModel | None = None
    connection: RequirementModel | None = None
    storage: RequirementModel | None = None
    pin_length: int | None = Field(default=None, ge=4, le=8)
    pin_expiry_seconds: int | None = Field(default=None, ge=60, le=30 * 86400)
    pin_attempts: int | None = Field(default=None, ge=3, le=15)

    def applied_to(self, p: AccessProfile) -> AccessProfile:
        return AccessProfile(
            id=p.id,
            name=self.name if self.name is not None else p.name,
            pairing=self.pairing.requirement() if self.pairing else p.pairing,
            connection=self.connection.requirement() if self.connection else p.connection,
            storage=self.storage.requirement() if self.storage else p.storage,
            pin_length=self.pin_length if self.pin_length is not None else p.pin_length,
            pin_expiry=dt.timedelta(seconds=self.pin_expiry_seconds)
            if self.pin_expiry_seconds is not None
            else p.pin_expiry,
            pin_attempts=self.pin_attempts if self.pin_attempts is not None else p.pin_attempts,
        )


class ProfileCreate(ProfileUpdate):
    """A new profile; absent fields take the defaults (button + master key for pairing, PIN
    length 4, expiry 24 h, 10 attempts)."""

    name: str = _NAME  # type: ignore[assignment]


class _AccountFields(Input):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    login: str | None = Field(default=None, min_length=1, max_length=255)
    login_type: LoginType | None = None
    urls: list[Url] | None = _URLS
    apps: list[AppName] | None = _APPS
    otp_secret: str | None = _OTP

    @property
    def has_secret(self) -> bool:
        return self.otp_secret is not None


class KeyAccountCreate(_AccountFields):
    """A personal account. Without ``password`` it must be ``skip_password`` (the user types
    it at the workstation); ``template_id`` gives the name, URLs and apps."""

    password: str | None = _PASSWORD
    skip_password: bool = False
    template_id: str | None = Field(default=None, max_length=64)

    @property
    def has_secret(self) -> bool:
        return self.password is not None or self.otp_secret is not None


class KeyAccountUpdate(_AccountFields):
    """Absent fields keep their value. A new password has its own action (``…/password``)."""

    skip_password: bool | None = None


class PasswordIn(Input):
    password: str = Field(min_length=1, max_length=256, description="write-only")


class OtpIn(Input):
    otp_secret: str = Field(min_length=1, max_length=512, description="write-only")


class SharedAccountCreate(_AccountFields):
    name: str = _NAME  # type: ignore[assignment]
    login: str = _LOGIN  # type: ignore[assignment]
    password: str = Field(min_length=1, max_length=256, description="write-only")

    @property
    def has_secret(self) -> bool:
        return True


class SharedAccountUpdate(_AccountFields):
    """Absent fields keep their value; every holder's copy follows, queued for their key."""

    password: str | None = _PASSWORD

    @property
    def has_secret(self) -> bool:
        return self.password is not None or self.otp_secret is not None


class HolderOut(Output):
    employee_id: str
    employee_username: str | None
    account_id: str = Field(description="the holder's copy")


class SharedAccountOut(Output):
    id: str
    name: str
    login: str
    login_type: LoginType
    urls: list[str]
    apps: list[str]
    has_password: bool
    has_otp: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    holders: list[HolderOut]


class SharedAccountEdited(Output):
    account: SharedAccountOut
    queued_for: list[str] = Field(description="serials of the keys the change was queued for")


class ShareIn(Input):
    employee_id: str = _ID


class TemplateCreate(Input):
    name: str = _NAME
    urls: list[Url] = Field(default_factory=list, max_length=32)
    apps: list[AppName] = Field(default_factory=list, max_length=32)


class TemplateUpdate(Input):
    """Absent fields keep their value; a template keeps at least one URL or app."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    urls: list[Url] | None = _URLS
    apps: list[AppName] | None = _APPS


class TemplateOut(Output):
    id: str
    name: str
    urls: list[str]
    apps: list[str]

    @classmethod
    def of(cls, t: Template) -> TemplateOut:
        return cls(id=t.id, name=t.name, urls=list(t.urls), apps=list(t.apps))
