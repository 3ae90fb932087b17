"""Unlocking a workstation with a key's primary account, sans-IO: the server reads it.

The gateway asks (``key_unlock``: its proximity engine decided to unlock); the server plans
(:meth:`UnlockApi.unlock_plan`: the key is Active, its employee enabled, a primary OS account
with a password exists, whether the access profile wants the PIN), opens a session with the
master key, reads the primary account's credentials from the key (READ_CREDENTIALS; the key
asks for its button where the profile says) and audits the read with the login, never the
password. Where the key wants its PIN first, the user is asked at the workstation
(:class:`AskPin`) and the PIN is verified by the key, which counts the tries and locks itself
when they are used up: the key is then Locked (LockedByInvalidPin). The generator::

    steps = unlock(vault=service, serial=serial, workstation_id=ws)
    step = next(steps)                 # ToKey(message) or AskPin(attempts_left, purpose)
    step = steps.send(reply_or_pin)    # ... until StopIteration carries the Unlocked

The link server seals :attr:`Unlocked.password` to the workstation (``idp.vault.relay``).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field

from idp.audit import AuditKind, Outcome
from idp.vault.conversation import ToKey, call, open_session
from idp.vault.driver import MASTER_KEY, DriverApi
from idp.vault.errors import (
    KeyCompromised,
    KeyLockedByPin,
    KeyStatusForbids,
    UnknownKey,
    UnlockRefused,
)
from idp.vault.model import LoginType
from idp.vault.protocol import messages as m
from idp.vault.protocol.errors import AttemptsExhausted, PinPolicy, PinRequired, WrongPin
from idp.vault.protocol.host import HostSession
from idp.vault.states import VaultStatus
from idp.vault.store import VaultTx, profile_from_row
from idp.vault.tables import HardwareVaultRow

#: how often a user setting a PIN may type one the key's policy refuses
SET_PIN_TRIES = 3


@dataclass(frozen=True)
class UnlockPlan:
    serial: str
    master_key: bytes = field(repr=False)
    #: the primary account: its id on the key, its login (``CORP\\alice``)
    account_id: str
    login: str
    employee_id: str
    username: str
    #: the access profile wants the PIN for connection or storage
    pin: bool


@dataclass(frozen=True)
class AskPin:
    serial: str
    #: what the key says is left (None: a key that does not say)
    attempts_left: int | None
    #: "verify" the user's PIN, or "set" a first one (the key holds none yet)
    purpose: str


@dataclass(frozen=True)
class Unlocked:
    serial: str
    account: str
    employee: str
    password: str = field(repr=False)


UnlockStep = ToKey | AskPin
UnlockConversation = Generator[UnlockStep, bytes | str, Unlocked]


def _actor(serial: str) -> str:
    return f"key:{serial}"


class UnlockApi(DriverApi):
    def unlock_plan(self, *, serial: str, workstation_id: str) -> UnlockPlan:
        """What unlocking ``workstation_id`` with key ``serial`` takes; every refusal is audited."""
        now = self._begin("unlocking a workstation with a key")
        try:
            with self.store.read() as tx:
                row = tx.find_vault(serial)
                if row is None:
                    raise UnknownKey(f"no key with serial {serial[:64]!r} was imported here")
                return self._unlock_plan(tx, row)
        except (UnknownKey, KeyCompromised, KeyStatusForbids, UnlockRefused) as exc:
            self._audit(
                AuditKind.VAULT_EVENT,
                _actor(serial[:64]),
                now,
                outcome=Outcome.FAILURE,
                reason=exc.error,
                serial=serial[:64],
                action="unlock",
                workstation=workstation_id,
            )
            raise

    def _unlock_plan(self, tx: VaultTx, row: HardwareVaultRow) -> UnlockPlan:
        status = VaultStatus(row.status)
        if status is VaultStatus.COMPROMISED:
            raise KeyCompromised(f"key {row.serial} is compromised: it unlocks nothing")
        if status is not VaultStatus.ACTIVE or row.master_key is None or row.employee_id is None:
            raise KeyStatusForbids(
                f"key {row.serial} is {status.value}: only an Active key unlocks a workstation"
            )
        employee = self._employees.get(row.employee_id)
        if employee is None or not employee.enabled:
            raise UnlockRefused(f"the employee holding key {row.serial} is deactivated")
        primary = [a for a in tx.accounts_of(row.employee_id) if a.primary]
        if not primary or not LoginType(primary[0].login_type).is_os:
            raise UnlockRefused(
                f"{employee.username} has no primary (Windows logon) account on key {row.serial}"
            )
        account = primary[0]
        if account.password is None:
            raise UnlockRefused(
                f"the primary account {account.login} has no password yet: the user types it "
                "at the workstation first"
            )
        profile = profile_from_row(tx.profile(row.profile_id))
        return UnlockPlan(
            serial=row.serial,
            master_key=self._open(MASTER_KEY, row.serial, row.master_key),
            account_id=account.id,
            login=account.login,
            employee_id=row.employee_id,
            username=employee.username,
            pin=profile.connection.pin or profile.storage.pin,
        )

    def credentials_read(self, *, plan: UnlockPlan, workstation_id: str) -> None:
        """The primary account was read from the key for ``workstation_id`` (audited with the
        login; the password is never written anywhere)."""
        now = self._begin("a credential read")
        self._audit(
            AuditKind.VAULT_EVENT,
            _actor(plan.serial),
            now,
            employee_id=plan.employee_id,
            serial=plan.serial,
            action="credentials_read",
            account=plan.account_id,
            login=plan.login,
            workstation=workstation_id,
        )


def unlock(*, vault: UnlockApi, serial: str, workstation_id: str) -> UnlockConversation:
    plan = vault.unlock_plan(serial=serial, workstation_id=workstation_id)
    host, info = yield from open_session(plan.serial, plan.master_key)
    if info.locked:
        vault.key_locked(serial=plan.serial)
        raise KeyLockedByPin(f"key {plan.serial} reports itself locked: it needs a new code")
    read = m.ReadCredentials(plan.account_id)
    try:
        credentials = yield from call(host, read)
    except PinRequired:
        if not plan.pin:
            raise  # the key wants a PIN the server's profile does not: its profile is stale
        yield from _pin(vault, host, plan.serial, info)
        credentials = yield from call(host, read)
    assert isinstance(credentials, m.Credentials)
    if credentials.login != plan.login or not credentials.password:
        raise UnlockRefused(
            f"key {plan.serial} holds {credentials.login!r} without the password the server "
            f"expects for {plan.login!r}: its tasks are not delivered yet"
        )
    vault.credentials_read(plan=plan, workstation_id=workstation_id)
    return Unlocked(plan.serial, plan.login, plan.username, credentials.password)


def _pin(
    vault: UnlockApi, host: HostSession, serial: str, info: m.Info
) -> Generator[UnlockStep, bytes | str, None]:
    """The user's PIN, verified by the key (or a first one set on it)."""
    if not info.pin_set:
        for _ in range(SET_PIN_TRIES):
            pin = yield AskPin(serial, None, "set")
            try:
                yield from call(host, m.SetPin(str(pin)))
                return
            except PinPolicy:
                continue
        raise UnlockRefused(f"no PIN the key accepts was set in {SET_PIN_TRIES} tries")
    left = info.pin_attempts_left
    while True:
        pin = yield AskPin(serial, left, "verify")
        try:
            yield from call(host, m.VerifyPin(str(pin)))
            return
        except WrongPin:
            left = None if left is None else max(left - 1, 1)
        except AttemptsExhausted:
            vault.key_locked(serial=serial)
            raise KeyLockedByPin(
                f"wrong PIN: no tries are left on key {serial}, which locked itself"
            ) from None
