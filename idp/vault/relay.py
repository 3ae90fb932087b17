"""Key conversations over the workstation link: the server drives, the gateway relays.

The gateway announces a connected key (``key_seen``), passes on every whole message the key
sends (``key_message``), the code its user typed (``key_code``), a password its user typed
(``key_password``, empty to skip) and the key's departure (``key_gone``). The server answers
with commands: ``key_message`` (a message for the key), ``key_code_prompt`` and
``key_password_prompt`` (ask the user) and ``key_done`` (the outcome, or the refusal with its
error). One :func:`~idp.vault.conversation.converse` generator per workstation × key, advanced by
one frame at a time: a frame that arrives while another of the same conversation is being
handled (another link-server thread) is refused with :class:`KeyConversationBusy` and changes
nothing.

An unlock (``key_unlock``: the gateway's proximity engine wants the key's primary account) is
an :func:`~idp.vault.unlock.unlock` generator in the same place: ``key_message`` commands,
``key_pin_prompt`` where the key wants its PIN (answered ``key_pin``), and at the end
``key_credentials``: the account and its password sealed to the workstation's key
(:mod:`idp.workstations.sealed`), or the refusal with its error.
"""

from __future__ import annotations

import binascii
import re
import threading
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from idp.errors import IdpError
from idp.vault.account_rules import MAX_PASSWORD
from idp.vault.conversation import AskCode, AskPassword, Outcome, ToKey, converse
from idp.vault.protocol import framing, gatt
from idp.vault.unlock import AskPin, UnlockApi, Unlocked, unlock
from idp.workstations import sealed
from idp.workstations.commands import Command, CommandKind
from idp.workstations.errors import (
    AlarmActive,
    InvalidLinkMessage,
    KeyConversationBusy,
    LinkMessageTooLarge,
)
from idp.workstations.wire import b64url, unb64url

KEY_TYPES = frozenset(
    {"key_seen", "key_message", "key_code", "key_password", "key_gone", "key_unlock", "key_pin"}
)
#: conversations one workstation may hold at once (a gateway serves a handful of keys)
MAX_PER_WORKSTATION = 16
#: an activation code or a PIN as typed (the vault and the key check them further)
_DIGITS = re.compile(r"[0-9]{1,16}")
_Steps = Generator[ToKey | AskCode | AskPassword | AskPin, bytes | str, Outcome | Unlocked]


@dataclass
class _Talk:
    steps: _Steps
    waiting: type[ToKey] | type[AskCode] | type[AskPassword] | type[AskPin]
    #: an unlock: its end (and any refusal) is a ``key_credentials`` command, sealed for this
    recipient: ec.EllipticCurvePublicKey | None = None
    #: the account whose password was asked
    asked: str = ""
    #: held while a frame advances the conversation: a second frame at once is refused
    busy: threading.Lock = field(default_factory=threading.Lock)


def _serial(body: dict[str, Any]) -> str:
    serial = body.get("serial")
    if not isinstance(serial, str) or not gatt.SERIAL.fullmatch(serial):
        raise InvalidLinkMessage("serial: expected 4-26 capital letters, digits and -")
    return serial


class KeyConversations:
    def __init__(self, *, vault: UnlockApi) -> None:
        self.vault = vault
        self._talks: dict[tuple[str, str], _Talk] = {}
        self._lock = threading.Lock()

    def handle(
        self,
        workstation_id: str,
        kind: str,
        body: dict[str, Any],
        *,
        recipient: ec.EllipticCurvePublicKey | None = None,
        alarm: bool = False,
    ) -> tuple[str, ...]:
        """One key frame of ``workstation_id``; ``recipient`` is its registered key (what an
        unlock's password is sealed to) and ``alarm`` whether the emergency alarm is on."""
        serial = _serial(body)
        key = (workstation_id, serial)
        if kind == "key_gone":
            with self._lock:
                self._talks.pop(key, None)
            return ()
        if kind == "key_seen":
            return self._start(key, _Talk(converse(vault=self.vault, serial=serial), ToKey))
        if kind == "key_unlock":
            if recipient is None:
                raise InvalidLinkMessage("key_unlock: the workstation's key is unknown here")
            if alarm:
                refusal = AlarmActive("the emergency alarm is on: no workstation may be unlocked")
                return (_refused(serial, refusal, unlocking=True),)
            steps = unlock(vault=self.vault, serial=serial, workstation_id=workstation_id)
            return self._start(key, _Talk(steps, ToKey, recipient))
        with self._lock:
            talk = self._talks.get(key)
        if talk is None:
            raise InvalidLinkMessage(f"{kind}: no conversation with key {serial} is open")
        if not talk.busy.acquire(blocking=False):
            raise KeyConversationBusy(
                f"{kind}: the conversation with key {serial} is still handling the previous "
                "frame; expected one answer per command, after its reply"
            )
        try:
            with self._lock:
                if self._talks.get(key) is not talk:  # the frame before this one ended it
                    raise InvalidLinkMessage(f"{kind}: no conversation with key {serial} is open")
            return self._advance(key, talk, _answer(kind, body, talk, serial))
        finally:
            talk.busy.release()

    def _start(self, key: tuple[str, str], talk: _Talk) -> tuple[str, ...]:
        with talk.busy:  # new, so free; held until its first step is out
            with self._lock:
                if key not in self._talks and (
                    sum(1 for ws, _ in self._talks if ws == key[0]) >= MAX_PER_WORKSTATION
                ):
                    raise InvalidLinkMessage(
                        f"a workstation holds at most {MAX_PER_WORKSTATION} key conversations"
                    )
                # a key seen again starts afresh: the old conversation died with its connection
                self._talks[key] = talk
            return self._advance(key, talk, None)

    def _advance(
        self, key: tuple[str, str], talk: _Talk, answer: bytes | str | None
    ) -> tuple[str, ...]:
        serial, unlocking = key[1], talk.recipient is not None
        try:
            step = next(talk.steps) if answer is None else talk.steps.send(answer)
        except StopIteration as stop:
            self._end(key, talk)
            if isinstance(stop.value, Unlocked):
                assert talk.recipient is not None
                return (_credentials(key[0], stop.value, talk.recipient),)
            return (_done(serial, stop.value),)
        except IdpError as exc:
            self._end(key, talk)
            return (_refused(serial, exc, unlocking=unlocking),)
        talk.waiting = type(step)
        if isinstance(step, ToKey):
            body: dict[str, Any] = {"serial": serial, "data": b64url(step.message)}
            return (Command(CommandKind.KEY_MESSAGE, body).to_frame(),)
        if isinstance(step, AskPassword):
            talk.asked = step.account_id
            body = {
                "serial": serial,
                "account_id": step.account_id,
                "name": step.name,
                "login": step.login,
                "refused": step.refused,
            }
            return (Command(CommandKind.KEY_PASSWORD_PROMPT, body).to_frame(),)
        body = {"serial": serial, "attempts_left": step.attempts_left, "purpose": step.purpose}
        if isinstance(step, AskPin):
            return (Command(CommandKind.KEY_PIN_PROMPT, body).to_frame(),)
        return (Command(CommandKind.KEY_CODE_PROMPT, body).to_frame(),)

    def _end(self, key: tuple[str, str], talk: _Talk) -> None:
        """Forget ``talk`` (not a newer conversation that replaced it meanwhile)."""
        with self._lock:
            if self._talks.get(key) is talk:
                del self._talks[key]

    def link_lost(self, workstation_id: str) -> None:
        with self._lock:
            for key in [k for k in self._talks if k[0] == workstation_id]:
                del self._talks[key]

    def open_conversations(self, workstation_id: str) -> int:
        with self._lock:
            return sum(1 for ws, _ in self._talks if ws == workstation_id)


def _answer(kind: str, body: dict[str, Any], talk: _Talk, serial: str) -> bytes | str:
    """What the frame answers, if it is what the conversation waits for."""
    expected = {
        ToKey: "key_message",
        AskCode: "key_code",
        AskPassword: "key_password",
        AskPin: "key_pin",
    }[talk.waiting]
    if kind != expected:
        raise InvalidLinkMessage(
            f"{kind[:32]}: the conversation with {serial} waits for {expected}"
        )
    if kind == "key_message":
        return _data(body)
    if kind == "key_password":
        return _password(body, talk)
    text = body.get(kind.removeprefix("key_"))
    if not isinstance(text, str) or not _DIGITS.fullmatch(text):
        raise InvalidLinkMessage(f"{kind}: {kind.removeprefix('key_')} is 1-16 digits")
    return text


def _password(body: dict[str, Any], talk: _Talk) -> str:
    """The typed password of the account asked ("" skips it); never echoed in an error."""
    if body.get("account_id") != talk.asked:
        raise InvalidLinkMessage(f"key_password: the password of account {talk.asked} was asked")
    password = body.get("password")
    if not isinstance(password, str) or len(password) > MAX_PASSWORD:
        raise InvalidLinkMessage(f"key_password: password is text of at most {MAX_PASSWORD}")
    return password


def _data(body: dict[str, Any]) -> bytes:
    data = body.get("data")
    if not isinstance(data, str):
        raise InvalidLinkMessage("key_message: data is base64url text")
    if len(data) > (framing.MAX_MESSAGE_BYTES * 4) // 3 + 4:
        raise LinkMessageTooLarge(
            f"key_message: a key message is at most {framing.MAX_MESSAGE_BYTES} bytes"
        )
    try:
        return unb64url(data)
    except (binascii.Error, ValueError):
        raise InvalidLinkMessage("key_message: data is base64url text") from None


def _done(serial: str, outcome: Outcome) -> str:
    body = {
        "serial": serial,
        "refused": False,
        "plan": outcome.plan.value,
        "status": outcome.status.value,
        "tasks_done": outcome.tasks_done,
        "battery": outcome.battery,
        "note": outcome.note,
    }
    return Command(CommandKind.KEY_DONE, body).to_frame()


def _refused(serial: str, exc: IdpError, *, unlocking: bool) -> str:
    kind = CommandKind.KEY_CREDENTIALS if unlocking else CommandKind.KEY_DONE
    return Command(kind, {"serial": serial, "refused": True, **exc.to_dict()}).to_frame()


def _credentials(
    workstation_id: str, unlocked: Unlocked, recipient: ec.EllipticCurvePublicKey
) -> str:
    box = sealed.seal(
        unlocked.password.encode("utf-8"),
        recipient=recipient,
        workstation_id=workstation_id,
        purpose=sealed.KEY_PASSWORD_PURPOSE,
    )
    body = {
        "serial": unlocked.serial,
        "refused": False,
        "account": unlocked.account,
        "employee": unlocked.employee,
        "sealed": box.to_wire(),
    }
    return Command(CommandKind.KEY_CREDENTIALS, body).to_frame()
