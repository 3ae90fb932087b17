"""What a source hands the engine, what the engine hands on, and the errors of a sync."""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field, fields

from idp.errors import IdpError

#: the Employee fields a directory can own (and then the admin cannot edit)
OWNABLE_FIELDS = (
    "username",
    "email",
    "first_name",
    "last_name",
    "phone",
    "company",
    "department",
    "position",
)


class SyncError(IdpError):
    """Root of the directory-sync errors."""

    error = "directory_sync_error"
    status = 502


class DirectoryUnavailable(SyncError):
    """The directory could not be reached or dropped the connection; nothing half-applied."""

    error = "directory_unavailable"
    status = 503


class DirectoryRefused(SyncError):
    """The directory answered with an error (bad credentials, rights, a malformed answer)."""

    error = "directory_refused"


class Throttled(DirectoryUnavailable):
    """The directory asked us to slow down for longer than we are willing to wait."""

    error = "directory_throttled"


@dataclass(frozen=True)
class DirectoryUser:
    """One user as a directory describes it, already mapped to our vocabulary.

    ``key`` is the directory's immutable id (AD ``objectGUID``, LDAP ``entryUUID``, Entra
    object id), the only thing a link is kept by; names and e-mail may change.
    """

    key: str
    username: str
    email: str
    first_name: str = ""
    last_name: str = ""
    enabled: bool = True
    phone: str | None = None
    company: str | None = None
    department: str | None = None
    position: str | None = None
    groups: tuple[str, ...] = ()
    ad_object_guid: str | None = None
    ad_object_sid: str | None = None
    upn: str | None = None
    entra_object_id: str | None = None
    entra_tenant_id: str | None = None
    dn: str | None = None

    def fingerprint(self) -> str:
        """Changes whenever anything the engine applies changes (idempotence: equal → skip)."""
        cached: str | None = self.__dict__.get("_fingerprint")
        if cached is None:
            values = tuple(getattr(self, f.name) for f in fields(self))
            cached = hashlib.sha256(repr(values).encode()).hexdigest()
            object.__setattr__(self, "_fingerprint", cached)
        return cached


@dataclass(frozen=True)
class Departure:
    """A user the directory deleted (Graph ``@removed``, an AD tombstone)."""

    key: str


class Action(enum.StrEnum):
    CREATE = "create"
    LINK = "link"  # an existing employee (matched by e-mail) is linked and updated
    UPDATE = "update"
    DISABLE = "disable"
    ENABLE = "enable"
    LEAVE_KEEP = "leave_keep"
    LEAVE_DEACTIVATE = "leave_deactivate"
    LEAVE_DELETE = "leave_delete"
    CONFLICT = "conflict"  # refused: e.g. the username belongs to another, unlinked employee


@dataclass(frozen=True)
class Change:
    action: Action
    username: str
    employee_id: str | None = None
    fields: tuple[str, ...] = ()
    reason: str = ""


class Withdrawal(enum.StrEnum):
    """Why access ends; the key side maps these to its own reasons (``Withdrawal``, lock)."""

    DISABLED = "disabled"
    LEFT_SCOPE = "left_scope"
    DELETED = "deleted"


@dataclass(frozen=True)
class EmployeeWithdrawn:
    """The seam for the Hideez Key side: this employee lost access (lock or withdraw the key,
    disable the authenticator apps). Handed to the sync's ``on_withdrawn`` callback."""

    employee_id: str
    username: str
    reason: Withdrawal
    source: str


@dataclass(frozen=True)
class KeyWithdrawal:
    """What became of a withdrawn employee's Hideez Key: the ``on_withdrawn`` callback's
    answer (``None`` when they held none). ``error`` says why the key could not be
    withdrawn; it is then as it was."""

    serial: str
    username: str
    error: str | None = None


@dataclass(frozen=True)
class SyncSummary:
    source: str
    mode: str  # "full" | "incremental"
    dry_run: bool
    read: int = 0
    unchanged: int = 0
    changes: tuple[Change, ...] = ()
    withdrawn: tuple[EmployeeWithdrawn, ...] = ()
    sessions_ended: int = 0
    notes: tuple[str, ...] = field(default=())
    keys: tuple[KeyWithdrawal, ...] = ()

    def keys_not_withdrawn(self) -> tuple[KeyWithdrawal, ...]:
        return tuple(k for k in self.keys if k.error is not None)

    def count(self, action: Action) -> int:
        return sum(1 for c in self.changes if c.action is action)
