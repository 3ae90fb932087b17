"""Directory withdrawals reach the Hideez Keys: the ``on_withdrawn`` every sync passes.

An employee the directory disabled, moved out of the sync's scope or deleted loses their key:
it is deactivated with reason Withdrawal (:meth:`VaultService.deactivate`: their accounts,
shared copies included, are soft-deleted, the key's pending tasks dropped, and the key is
wiped at its next connection), audited with the source as the actor. A key that cannot be
withdrawn (the server's secrets are locked, a concurrent change) stays as it was: the refusal
is audited and the answer says why, and the sync goes on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from idp.admin.access import Actor, Role
from idp.audit import AuditKind, Outcome
from idp.directory.sync.records import EmployeeWithdrawn, KeyWithdrawal
from idp.errors import IdpError
from idp.vault.states import VaultAction, VaultReason

if TYPE_CHECKING:
    from idp.runtime import Runtime
    from idp.store.sql.repositories.audit import AuditRepository
    from idp.vault.service import VaultService

Withdraw = Callable[[EmployeeWithdrawn], KeyWithdrawal | None]


def key_withdrawal(runtime: Runtime) -> Withdraw:
    """The callback the shells hand to :func:`idp.directory.sync.service.run_sync`."""
    from idp.vault.service import build_vault_service

    built: list[VaultService] = []

    def withdraw(gone: EmployeeWithdrawn) -> KeyWithdrawal | None:
        if not built:
            built.append(build_vault_service(runtime))
        return withdraw_key(vault=built[0], audit=runtime.audit, clock=runtime.now, gone=gone)

    return withdraw


def withdraw_key(
    *,
    vault: VaultService,
    audit: AuditRepository,
    clock: Callable[[], dt.datetime],
    gone: EmployeeWithdrawn,
) -> KeyWithdrawal | None:
    """Deactivate (Withdrawal) the key ``gone`` holds; ``None`` when they hold none."""
    with vault.store.read() as tx:  # the serial needs no secrets: a refusal can name it
        held = tx.holding_vault(gone.employee_id)
        serial = None if held is None else held.serial
    if serial is None:
        return None
    actor = Actor(name=f"directory:{gone.source}", role=Role.ADMIN)
    try:
        vault.deactivate(actor=actor, serial=serial, reason=VaultReason.WITHDRAWAL)
    except IdpError as exc:
        audit.append_event(
            kind=AuditKind.VAULT_STATUS_CHANGED, at=clock(), actor=actor.name,
            employee_id=gone.employee_id, outcome=Outcome.FAILURE, factor="hardware_vault",
            reason=exc.description,
            details={"action": VaultAction.DEACTIVATE.value, "serial": serial,
                     "why": VaultReason.WITHDRAWAL.value},
        )  # fmt: skip
        return KeyWithdrawal(serial, gone.username, error=exc.description)
    return KeyWithdrawal(serial, gone.username)
