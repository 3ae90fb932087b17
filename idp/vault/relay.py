"""Key conversations over the workstation link: the server drives, the gateway relays.

The gateway announces a connected key (``key_seen``), passes on every whole message the key
sends (``key_message``), the code its user typed (``key_code``), a password its user typed
(``key_password``, empty to skip) and the key's departure (``key_gone``). The server answers
with commands: ``key_message`` (a message for the key), ``key_code_prompt`` and
``key_password_prompt`` (ask the user) and ``key_done`` (the outcome, or the refusal with its
error). One :func:`~idp.vault.conversation.converse` generator per workstation × key.
"""

from __future__ import annotations

import binascii
import re
import threading
from dataclasses import dataclass
from typing import Any

from idp.errors import IdpError
from idp.vault.account_rules import MAX_PASSWORD
from idp.vault.conversation import AskCode, AskPassword, Conversation, Outcome, ToKey, converse
from idp.vault.driver import DriverApi
from idp.vault.protocol import framing, gatt
from idp.workstations.commands import Command, CommandKind
from idp.workstations.errors import InvalidLinkMessage, LinkMessageTooLarge
from idp.workstations.wire import b64url, unb64url

KEY_TYPES = frozenset({"key_seen", "key_message", "key_code", "key_password", "key_gone"})
#: conversations one workstation may hold at once (a gateway serves a handful of keys)
MAX_PER_WORKSTATION = 16
_CODE = re.compile(r"[0-9]{1,16}")


@dataclass
class _Talk:
    steps: Conversation
    waiting: type[ToKey] | type[AskCode] | type[AskPassword]
    #: the account whose password was asked
    asked: str = ""


def _serial(body: dict[str, Any]) -> str:
    serial = body.get("serial")
    if not isinstance(serial, str) or not gatt.SERIAL.fullmatch(serial):
        raise InvalidLinkMessage("serial: expected 4-26 capital letters, digits and -")
    return serial


class KeyConversations:
    def __init__(self, *, vault: DriverApi) -> None:
        self.vault = vault
        self._talks: dict[tuple[str, str], _Talk] = {}
        self._lock = threading.Lock()

    def handle(self, workstation_id: str, kind: str, body: dict[str, Any]) -> tuple[str, ...]:
        serial = _serial(body)
        key = (workstation_id, serial)
        if kind == "key_gone":
            with self._lock:
                self._talks.pop(key, None)
            return ()
        if kind == "key_seen":
            return self._start(key)
        with self._lock:
            talk = self._talks.get(key)
        if talk is None:
            raise InvalidLinkMessage(f"{kind}: no conversation with key {serial} is open")
        if kind == "key_message":
            if talk.waiting is not ToKey:
                raise InvalidLinkMessage(
                    f"key_message: the user's answer for {serial} is due first"
                )
            return self._advance(key, talk, _data(body))
        if kind == "key_password":
            return self._advance(key, talk, _password(body, talk, serial))
        if kind != "key_code" or talk.waiting is not AskCode:
            raise InvalidLinkMessage(f"{kind[:32]}: no code was asked of {serial}")
        code = body.get("code")
        if not isinstance(code, str) or not _CODE.fullmatch(code):
            raise InvalidLinkMessage("key_code: code is 1-16 digits")
        return self._advance(key, talk, code)

    def _start(self, key: tuple[str, str]) -> tuple[str, ...]:
        with self._lock:
            if sum(1 for ws, _ in self._talks if ws == key[0]) >= MAX_PER_WORKSTATION:
                raise InvalidLinkMessage(
                    f"a workstation holds at most {MAX_PER_WORKSTATION} key conversations"
                )
            talk = _Talk(converse(vault=self.vault, serial=key[1]), ToKey)
            # a key seen again starts afresh: the old conversation died with its connection
            self._talks[key] = talk
        return self._advance(key, talk, None)

    def _advance(
        self, key: tuple[str, str], talk: _Talk, answer: bytes | str | None
    ) -> tuple[str, ...]:
        serial = key[1]
        try:
            step = next(talk.steps) if answer is None else talk.steps.send(answer)
        except StopIteration as stop:
            self._end(key)
            return (_done(serial, stop.value),)
        except IdpError as exc:
            self._end(key)
            refusal = {"serial": serial, "refused": True, **exc.to_dict()}
            return (Command(CommandKind.KEY_DONE, refusal).to_frame(),)
        if isinstance(step, ToKey):
            talk.waiting = ToKey
            body: dict[str, Any] = {"serial": serial, "data": b64url(step.message)}
            return (Command(CommandKind.KEY_MESSAGE, body).to_frame(),)
        if isinstance(step, AskPassword):
            talk.waiting, talk.asked = AskPassword, step.account_id
            body = {
                "serial": serial,
                "account_id": step.account_id,
                "name": step.name,
                "login": step.login,
                "refused": step.refused,
            }
            return (Command(CommandKind.KEY_PASSWORD_PROMPT, body).to_frame(),)
        talk.waiting = AskCode
        body = {"serial": serial, "attempts_left": step.attempts_left, "purpose": step.purpose}
        return (Command(CommandKind.KEY_CODE_PROMPT, body).to_frame(),)

    def _end(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._talks.pop(key, None)

    def link_lost(self, workstation_id: str) -> None:
        with self._lock:
            for key in [k for k in self._talks if k[0] == workstation_id]:
                del self._talks[key]

    def open_conversations(self, workstation_id: str) -> int:
        with self._lock:
            return sum(1 for ws, _ in self._talks if ws == workstation_id)


def _password(body: dict[str, Any], talk: _Talk, serial: str) -> str:
    """The typed password of the account asked ("" skips it); never echoed in an error."""
    if talk.waiting is not AskPassword:
        raise InvalidLinkMessage(f"key_password: no password was asked of {serial}")
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
