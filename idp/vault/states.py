"""The key's lifecycle as one table: which action moves which status where, with which reason.

Every transition of the reference behaviour (DESIGN.md, "Hideez Key") is a row of
:data:`TRANSITIONS` and nothing else is allowed: :func:`transition` refuses any other pair
with :class:`IllegalTransition`, which names the status and the action.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from idp.errors import Conflict, InvalidRequest


class VaultStatus(StrEnum):
    READY = "ready"
    RESERVED = "reserved"
    ACTIVE = "active"
    LOCKED = "locked"
    SUSPENDED = "suspended"
    DEACTIVATED = "deactivated"
    COMPROMISED = "compromised"


class VaultReason(StrEnum):
    INVALID_ACTIVATION_CODE = "invalid_activation_code"
    LOCKED_BY_INVALID_PIN = "locked_by_invalid_pin"
    WITHDRAWAL = "withdrawal"
    LOST = "lost"
    STOLEN = "stolen"
    BROKEN = "broken"


#: the reasons an admin may give when deactivating (the others are set by the key's events)
DEACTIVATION_REASONS = frozenset(
    {VaultReason.WITHDRAWAL, VaultReason.LOST, VaultReason.STOLEN, VaultReason.BROKEN}
)


class VaultAction(StrEnum):
    ASSIGN = "assign"  # admin: to an employee (master key and activation code made)
    CANCEL = "cancel"  # admin: the assignment, before the key was linked
    LINK = "link"  # driver: first connection linked the key with the code
    KEY_LOCKED = "key_locked"  # driver: the key reports itself locked (PIN tries used up)
    CODE_EXHAUSTED = "code_exhausted"  # the third wrong activation code
    SUSPEND = "suspend"  # admin: a new activation code for a locked or active key
    REACTIVATE = "reactivate"  # driver: the right code at a suspended key
    DEACTIVATE = "deactivate"  # admin: removed from the employee, with a reason
    WIPED = "wiped"  # driver: a deactivated key was wiped at its next connection
    COMPROMISE = "compromise"  # admin: terminal


class IllegalTransition(Conflict):
    """The action is not allowed from the key's current status (nothing was changed)."""

    error = "illegal_vault_transition"

    def __init__(self, status: VaultStatus, action: VaultAction) -> None:
        self.from_status = status
        self.action = action
        allowed = ", ".join(s.value for s in sources(action))
        super().__init__(
            f"'{action.value}' is not allowed for a key that is {status.value} "
            f"(allowed from: {allowed or 'nothing'})"
        )


class InvalidReason(InvalidRequest):
    error = "invalid_vault_reason"


@dataclass(frozen=True)
class Transition:
    to: VaultStatus
    #: the reason the new status carries: a fixed one, or ``None`` (no reason / the admin's)
    reason: VaultReason | None = None
    #: the admin gives the reason (deactivation)
    reason_given: bool = False


_S = VaultStatus
_LIVE = (_S.RESERVED, _S.ACTIVE, _S.LOCKED, _S.SUSPENDED)

TRANSITIONS: dict[tuple[VaultStatus, VaultAction], Transition] = {
    (_S.READY, VaultAction.ASSIGN): Transition(_S.RESERVED),
    (_S.RESERVED, VaultAction.CANCEL): Transition(_S.READY),
    (_S.RESERVED, VaultAction.LINK): Transition(_S.ACTIVE),
    # a key locked before its first link (codes used up) is re-issued a code by suspending;
    # its next connection links it with that code
    (_S.SUSPENDED, VaultAction.LINK): Transition(_S.ACTIVE),
    (_S.ACTIVE, VaultAction.KEY_LOCKED): Transition(_S.LOCKED, VaultReason.LOCKED_BY_INVALID_PIN),
    (_S.RESERVED, VaultAction.CODE_EXHAUSTED): Transition(
        _S.LOCKED, VaultReason.INVALID_ACTIVATION_CODE
    ),
    (_S.SUSPENDED, VaultAction.CODE_EXHAUSTED): Transition(
        _S.LOCKED, VaultReason.INVALID_ACTIVATION_CODE
    ),
    (_S.ACTIVE, VaultAction.SUSPEND): Transition(_S.SUSPENDED),
    (_S.LOCKED, VaultAction.SUSPEND): Transition(_S.SUSPENDED),
    (_S.SUSPENDED, VaultAction.REACTIVATE): Transition(_S.ACTIVE),
    **{(s, VaultAction.DEACTIVATE): Transition(_S.DEACTIVATED, reason_given=True) for s in _LIVE},
    (_S.DEACTIVATED, VaultAction.WIPED): Transition(_S.READY),
    **{
        (s, VaultAction.COMPROMISE): Transition(_S.COMPROMISED)
        for s in VaultStatus
        if s is not _S.COMPROMISED
    },
}


def sources(action: VaultAction) -> tuple[VaultStatus, ...]:
    """The statuses ``action`` is allowed from, in the order of :class:`VaultStatus`."""
    return tuple(s for s in VaultStatus if (s, action) in TRANSITIONS)


def transition(
    status: VaultStatus, action: VaultAction, *, reason: VaultReason | None = None
) -> tuple[VaultStatus, VaultReason | None]:
    """The status and reason after ``action``; refuses an action the table does not allow."""
    step = TRANSITIONS.get((status, action))
    if step is None:
        raise IllegalTransition(status, action)
    if step.reason_given:
        if reason not in DEACTIVATION_REASONS:
            allowed = ", ".join(sorted(r.value for r in DEACTIVATION_REASONS))
            raise InvalidReason(f"'{action.value}' needs a reason ({allowed}), got {reason}")
        return step.to, reason
    if reason is not None:
        raise InvalidReason(f"'{action.value}' takes no reason, got {reason.value}")
    return step.to, step.reason
