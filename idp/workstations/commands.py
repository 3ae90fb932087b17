"""Server → workstation commands, and how they travel between server instances.

A command issued anywhere (the CLI, the console, another link server) is published on one
channel of the short-lived store; every link server subscribes to it and sends the command to
the workstations connected to it (``target`` is a workstation id, or ``*`` for all). So a
command issued on instance A reaches a workstation connected to instance B (Redis pub/sub).
Commands are live: a workstation that is offline gets the state that matters (its settings,
the alarm) when it next connects, not a backlog.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from idp.workstations.errors import InvalidLinkMessage
from idp.workstations.model import WORKSTATION_ID

if TYPE_CHECKING:  # the gateway reads commands without the server's stores
    from idp.store.ephemeral.base import EphemeralStore

CHANNEL = "workstations:commands"
ALL = "*"


class CommandKind(StrEnum):
    SETTINGS = "settings"
    LOCK = "lock"
    ALARM = "alarm"
    CREDENTIALS = "credentials"
    VAULT_TASKS = "vault_tasks"
    QR = "qr"
    #: the workstation's status changed (approved, unapproved, removed)
    STATUS = "status"
    #: forget the offline-code grant of one authenticator app (PC logon switched off for it)
    OFFLINE_REVOKE = "offline_revoke"
    #: a key conversation (idp/vault/relay.py): a message for the key, ask the user for the
    #: activation code or an account's password, the conversation's outcome
    KEY_MESSAGE = "key_message"
    KEY_CODE_PROMPT = "key_code_prompt"
    KEY_PASSWORD_PROMPT = "key_password_prompt"
    KEY_DONE = "key_done"
    #: an unlock with a key's primary account (idp/vault/unlock.py): ask the user for the
    #: key's PIN; the account and its password sealed to the workstation (or the refusal)
    KEY_PIN_PROMPT = "key_pin_prompt"
    KEY_CREDENTIALS = "key_credentials"


@dataclass(frozen=True)
class Command:
    kind: CommandKind
    body: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=lambda: secrets.token_urlsafe(12))

    def to_wire(self) -> dict[str, Any]:
        return {"type": "command", "id": self.id, "kind": self.kind.value, "body": self.body}

    def to_frame(self) -> str:
        """The server → gateway frame carrying this command."""
        return json.dumps(self.to_wire(), separators=(",", ":"))

    @classmethod
    def from_wire(cls, value: dict[str, Any]) -> Command:
        try:
            kind = CommandKind(str(value.get("kind")))
        except ValueError:
            raise InvalidLinkMessage(f"unknown command kind {value.get('kind')!r}") from None
        body, command_id = value.get("body"), value.get("id")
        if not isinstance(body, dict) or not isinstance(command_id, str):
            raise InvalidLinkMessage("a command has an id and a body object")
        return cls(kind, body, command_id)


def lock(reason: str) -> Command:
    return Command(CommandKind.LOCK, {"reason": reason})


def alarm(active: bool) -> Command:
    return Command(CommandKind.ALARM, {"active": active})


def publish(store: EphemeralStore, target: str, command: Command) -> None:
    """Hand ``command`` to whichever link server holds ``target``'s connection."""
    if target != ALL and not WORKSTATION_ID.fullmatch(target):
        raise ValueError(f"target: a workstation id or {ALL!r}, got {target!r}")
    message = {"target": target, "command": command.to_wire()}
    store.publish(CHANNEL, json.dumps(message, separators=(",", ":")).encode())


def routed(message: bytes) -> tuple[str, Command]:
    """The target and command of a message read from :data:`CHANNEL`."""
    value = json.loads(message)
    return str(value["target"]), Command.from_wire(value["command"])
