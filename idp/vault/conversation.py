"""The server's side of one key connection, sans-IO: the vault service's plan, carried out
over the key protocol. It is a generator that yields what it needs next and is sent the
answer::

    steps = converse(vault=service, serial=serial)
    step = next(steps)                 # ToKey(message) or AskCode(attempts_left)
    step = steps.send(reply_or_code)   # ... until StopIteration carries the Outcome

``ToKey`` wants the key's reply to ``message``; ``AskCode`` wants the activation code the user
typed at the workstation; ``AskPassword`` (after the tasks) the password of a skip-password or
primary account the user completes there — checked against the directory, stored, delivered.
The master key stays here: the gateway only relays sealed messages.
A refusal (unknown, compromised, wiped by hand, another server's key) or a protocol error is
raised out of the generator as its typed error; the link server reports it to the gateway.
"""

from __future__ import annotations

import secrets
from collections.abc import Generator
from dataclasses import dataclass

from idp.errors import IdpError
from idp.vault.driver import DriverApi
from idp.vault.errors import ActivationCodeWrong
from idp.vault.model import (
    CODE_ATTEMPTS,
    AccessProfile,
    ConnectionPlan,
    PlanKind,
    Reported,
    TaskKind,
    TaskPayload,
)
from idp.vault.protocol import messages as m
from idp.vault.protocol.codec import Body
from idp.vault.protocol.errors import NoSuchAccount
from idp.vault.protocol.host import HostSession
from idp.vault.states import VaultStatus


@dataclass(frozen=True)
class ToKey:
    message: bytes


@dataclass(frozen=True)
class AskCode:
    serial: str
    attempts_left: int
    #: what the prompt says: "link" (a new key) or "unlock" (a suspended key)
    purpose: str


@dataclass(frozen=True)
class AskPassword:
    """The password of an account the user completes at the workstation (an empty answer
    skips it until the next connection)."""

    serial: str
    account_id: str
    name: str
    login: str
    #: why the previous answer was refused ("" when first asked)
    refused: str = ""


@dataclass(frozen=True)
class Outcome:
    serial: str
    plan: PlanKind
    #: the key's status in the vault after the conversation
    status: VaultStatus
    tasks_done: int = 0
    battery: int | None = None
    note: str = ""


Step = ToKey | AskCode | AskPassword
#: answers a user may give for one account's password in one connection
PASSWORD_TRIES = 3
Conversation = Generator[Step, bytes | str, Outcome]


def profile_command(profile: AccessProfile) -> m.SetProfile:
    flags = m.ProfileFlag(0)
    for stage, button, pin, master in (
        (
            profile.pairing,
            m.ProfileFlag.BUTTON_PAIRING,
            m.ProfileFlag.PIN_PAIRING,
            m.ProfileFlag.MASTER_KEY_PAIRING,
        ),
        (
            profile.connection,
            m.ProfileFlag.BUTTON_CONNECTION,
            m.ProfileFlag.PIN_CONNECTION,
            m.ProfileFlag.MASTER_KEY_CONNECTION,
        ),
        (
            profile.storage,
            m.ProfileFlag.BUTTON_STORAGE,
            m.ProfileFlag.PIN_STORAGE,
            m.ProfileFlag.MASTER_KEY_STORAGE,
        ),
    ):
        flags |= (button if stage.button else 0) | (pin if stage.pin else 0)
        flags |= master if stage.master_key else 0
    return m.SetProfile(
        flags=int(flags),
        pin_length=profile.pin_length,
        pin_expiry=int(profile.pin_expiry.total_seconds()),
        pin_attempts=profile.pin_attempts,
    )


def task_command(task: TaskPayload) -> m.Command:
    if task.kind is TaskKind.PROFILE:
        assert task.profile is not None
        return profile_command(task.profile)
    if task.kind is TaskKind.DELETE:
        return m.DeleteAccount(task.account_id or "")
    if task.kind is TaskKind.PRIMARY:
        return m.SetPrimary(task.account_id or "")
    account = task.account
    assert account is not None
    return m.SaveAccount(
        id=account.id,
        name=account.name,
        login=account.login,
        # a "skip password" account is stored without one until the user gives it
        password=account.password or "",
        urls=account.urls,
        apps=account.apps,
        otp_secret=account.otp_secret,
        primary=account.primary,
    )


def call(host: HostSession, command: m.Command) -> Generator[ToKey, bytes | str, Body]:
    """One request to the key and its decoded reply (a refusal is raised as its error)."""
    reply = yield ToKey(host.request(command))
    return host.on_reply(_bytes(reply))


def _bytes(answer: bytes | str) -> bytes:
    if not isinstance(answer, bytes):
        raise TypeError("the key's reply is bytes")
    return answer


def open_session(
    serial: str, master_key: bytes | None, *, greeted: HostSession | None = None
) -> Generator[ToKey, bytes | str, tuple[HostSession, m.Info]]:
    """A session; ``greeted`` is a host whose HELLO the key already answered (one round trip
    saved on every connection)."""
    host = greeted
    if host is None:
        host = HostSession(expected_serial=serial)
        host.on_hello_reply(_bytes((yield ToKey(host.hello()))))
    info = host.on_ready(_bytes((yield ToKey(host.confirm(master_key=master_key)))))
    return host, info


def converse(*, vault: DriverApi, serial: str) -> Conversation:
    probe = HostSession(expected_serial=serial)
    seen = probe.on_hello_reply(_bytes((yield ToKey(probe.hello()))))
    # Locked or not is only known inside a session; the plan is asked with what the key said
    # in clear, and a locked report follows once the session says so.
    plan = vault.connection_plan(serial=serial, reported=Reported(linked=seen.linked, locked=False))
    if plan.kind is PlanKind.NOTHING:
        return Outcome(serial, plan.kind, plan.status, note=plan.note)
    if plan.kind is PlanKind.WIPE and plan.master_key is None:
        vault.wiped(serial=serial)  # never linked: blank already
        return Outcome(serial, plan.kind, VaultStatus.READY)
    if plan.kind is PlanKind.LINK:
        return (yield from _link(vault, plan, probe))
    host, info = yield from open_session(serial, plan.master_key, greeted=probe)
    vault.seen(serial=serial, battery=info.battery, firmware=info.firmware)
    if plan.kind is PlanKind.WIPE:
        yield from call(host, m.Wipe())
        vault.wiped(serial=serial)
        return Outcome(serial, plan.kind, VaultStatus.READY, battery=info.battery)
    if plan.kind is PlanKind.UNLOCK_WITH_CODE:
        unlocked = yield from _unlock(vault, host, serial)
        if not unlocked:
            return Outcome(serial, plan.kind, VaultStatus.LOCKED, battery=info.battery)
    elif info.locked:
        vault.key_locked(serial=serial)
        return Outcome(serial, plan.kind, VaultStatus.LOCKED, battery=info.battery)
    done = yield from _tasks(vault, host, serial)
    typed, note = yield from _user_passwords(vault, host, serial)
    return Outcome(serial, plan.kind, VaultStatus.ACTIVE, done + typed, info.battery, note)


def _ask_code(vault: DriverApi, serial: str, purpose: str) -> Generator[Step, bytes | str, bool]:
    """Ask until the code is right (True) or the attempts are used up (False)."""
    left = CODE_ATTEMPTS
    while True:
        code = yield AskCode(serial, left, purpose)
        try:
            vault.check_activation_code(serial=serial, code=str(code))
        except ActivationCodeWrong as exc:
            left = exc.attempts_left
            if left <= 0:
                return False
            continue
        return True


def _link(vault: DriverApi, plan: ConnectionPlan, probe: HostSession) -> Conversation:
    serial = plan.serial
    assert plan.master_key is not None
    host, info = yield from open_session(serial, None, greeted=probe)
    vault.seen(serial=serial, battery=info.battery, firmware=info.firmware)
    if not (yield from _ask_code(vault, serial, "link")):
        return Outcome(serial, plan.kind, VaultStatus.LOCKED, battery=info.battery)
    yield from call(host, m.Link(plan.master_key))
    vault.linked(serial=serial)
    host, info = yield from open_session(serial, plan.master_key)
    if plan.profile is not None:
        yield from call(host, profile_command(plan.profile))
    done = yield from _tasks(vault, host, serial)
    typed, note = yield from _user_passwords(vault, host, serial)
    return Outcome(serial, plan.kind, VaultStatus.ACTIVE, done + typed, info.battery, note)


def _unlock(vault: DriverApi, host: HostSession, serial: str) -> Generator[Step, bytes | str, bool]:
    """A suspended key: locked with a one-time code the server holds, until the user's
    activation code checks out here (the code itself never goes to the key)."""
    one_time = f"{secrets.randbelow(10**6):06d}"
    yield from call(host, m.Lock(one_time))
    if not (yield from _ask_code(vault, serial, "unlock")):
        return False
    yield from call(host, m.Unlock(one_time))
    return True


def _tasks(vault: DriverApi, host: HostSession, serial: str) -> Generator[Step, bytes | str, int]:
    done = 0
    for task in vault.pending_tasks(serial=serial):
        try:
            yield from call(host, task_command(task))
        except NoSuchAccount:
            if task.kind is not TaskKind.DELETE:
                raise
            # deleting what the key does not hold is done already
        vault.task_done(serial=serial, task_id=task.id)
        done += 1
    return done


def _user_passwords(
    vault: DriverApi, host: HostSession, serial: str
) -> Generator[Step, bytes | str, tuple[int, str]]:
    """Ask for each password the user is to give; the Updates they made are delivered at
    once. (tasks delivered, a note when the directory could not check now)."""
    stored = False
    for wanted in vault.passwords_wanted(serial=serial):
        refused = ""
        for _ in range(PASSWORD_TRIES):
            answer = yield AskPassword(
                serial, wanted.account_id, wanted.name, wanted.login, refused
            )
            if not answer:
                break  # skipped: asked again at the next connection
            try:
                vault.user_password(
                    serial=serial, account_id=wanted.account_id, password=str(answer)
                )
            except IdpError as exc:
                if exc.status >= 429 or exc.retry_after is not None:  # later, not "wrong"
                    done = (yield from _tasks(vault, host, serial)) if stored else 0
                    return done, f"{wanted.login}: {exc.description}"
                refused = exc.description
                continue
            stored = True
            break
    return ((yield from _tasks(vault, host, serial)) if stored else 0), ""
