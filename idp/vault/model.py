"""The vault's frozen objects: keys, access profiles, accounts, templates and tasks.

Secrets (master keys, activation codes, passwords, OTP secrets) never appear here except in
the objects made for the driver (:class:`ConnectionPlan`, :class:`TaskPayload`), which carry
what the key itself needs; their ``repr`` hides them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from idp.vault.states import VaultReason, VaultStatus

DEFAULT_PROFILE_ID = "default"
#: activation codes: digits, tries, lifetime
CODE_DIGITS = 6
CODE_ATTEMPTS = 3
CODE_LIFETIME = dt.timedelta(hours=24)
MASTER_KEY_BYTES = 32


class LoginType(StrEnum):
    WEB_APP = "webapp"
    LOCAL = "local"  # .\login
    DOMAIN = "domain"  # DOMAIN\login
    AZURE_AD = "azuread"  # AzureAD\login
    MICROSOFT = "microsoft"  # a Microsoft account: user@outlook.com

    @property
    def is_os(self) -> bool:
        """OS accounts unlock the PC: they are delivered to a key before the others."""
        return self is not LoginType.WEB_APP


class TaskKind(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    PRIMARY = "primary"
    PROFILE = "profile"


@dataclass(frozen=True)
class Requirement:
    """What a stage (pairing, connection, storage access) asks of the key's holder."""

    button: bool = False
    pin: bool = False
    master_key: bool = False


@dataclass(frozen=True)
class AccessProfile:
    id: str
    name: str
    pairing: Requirement = Requirement(button=True, master_key=True)
    connection: Requirement = Requirement()
    storage: Requirement = Requirement()
    pin_length: int = 4
    pin_expiry: dt.timedelta = dt.timedelta(hours=24)
    pin_attempts: int = 10


@dataclass(frozen=True)
class Vault:
    serial: str
    mac: str
    model: str
    firmware: str
    status: VaultStatus
    reason: VaultReason | None
    profile_id: str
    employee_id: str | None
    battery: int | None
    imported_at: dt.datetime
    status_changed_at: dt.datetime
    last_seen_at: dt.datetime | None
    linked_at: dt.datetime | None
    has_master_key: bool
    code_attempts_left: int | None
    code_expires_at: dt.datetime | None
    pending_tasks: int = 0


@dataclass(frozen=True)
class KeyImport:
    serial: str
    mac: str
    model: str
    firmware: str


@dataclass(frozen=True)
class AccountInput:
    """What an admin gives for a new account or an edit (``None``: keep as it is)."""

    name: str | None = None
    login: str | None = None
    login_type: LoginType | None = None
    urls: tuple[str, ...] | None = None
    apps: tuple[str, ...] | None = None
    password: str | None = field(default=None, repr=False)
    otp_secret: str | None = field(default=None, repr=False)
    skip_password: bool | None = None


@dataclass(frozen=True)
class Account:
    id: str
    employee_id: str | None  # None for a shared account itself
    shared_id: str | None  # the shared account a holder's copy follows
    name: str
    login: str
    login_type: LoginType
    urls: tuple[str, ...]
    apps: tuple[str, ...]
    has_password: bool
    has_otp: bool
    skip_password: bool
    primary: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    deleted_at: dt.datetime | None = None


@dataclass(frozen=True)
class Template:
    id: str
    name: str
    urls: tuple[str, ...]
    apps: tuple[str, ...]


@dataclass(frozen=True)
class KeyAccount:
    """An account as the key stores it (decrypted: only for the driver)."""

    id: str
    name: str
    login: str
    login_type: LoginType
    urls: tuple[str, ...]
    apps: tuple[str, ...]
    password: str | None = field(repr=False)
    otp_secret: str | None = field(repr=False)
    primary: bool


@dataclass(frozen=True)
class PendingTask:
    """A task queued for a key, as an admin sees it (no payload)."""

    id: int
    kind: TaskKind
    account_id: str | None
    created_at: dt.datetime


@dataclass(frozen=True)
class TaskPayload:
    """One pending task with what the key needs to perform it, in delivery order.

    ``account`` for Create/Update; ``account_id`` for Delete/Primary; ``profile`` for Profile.
    """

    id: int
    kind: TaskKind
    account_id: str | None = None
    account: KeyAccount | None = None
    profile: AccessProfile | None = None


class PlanKind(StrEnum):
    LINK = "link"  # Reserved (or Suspended, never linked): ask the code, link with the master key
    UNLOCK_WITH_CODE = "unlock_with_code"  # Suspended: lock the key with the code, ask it
    RUN_TASKS = "run_tasks"  # Active: open a session with the master key, run the tasks
    WIPE = "wipe"  # Deactivated: wipe the key, then report ``wiped``
    NOTHING = "nothing"  # Ready or Locked: nothing to do (``note`` says why)


@dataclass(frozen=True)
class Reported:
    """What a connected key says about itself."""

    linked: bool
    locked: bool
    firmware: str = ""
    battery: int | None = None


@dataclass(frozen=True)
class ConnectionPlan:
    kind: PlanKind
    serial: str
    status: VaultStatus
    #: the 32-byte master key for link and session (None where no session is needed)
    master_key: bytes | None = field(default=None, repr=False)
    profile: AccessProfile | None = None
    employee_id: str | None = None
    note: str = ""


@dataclass(frozen=True)
class CodeCheck:
    """A right activation code: the key's status after it (Active for a suspended key)."""

    serial: str
    status: VaultStatus


@dataclass(frozen=True)
class WantedPassword:
    """An account on an Active key that waits for the user to type its password."""

    account_id: str
    name: str
    login: str
