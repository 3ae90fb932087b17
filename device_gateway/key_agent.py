"""The gateway's part in a key conversation: connect the keys it hears, relay.

A key heard and not connected is connected and announced (``key_seen``); the server then
drives: each ``key_message`` command is written to the key and its answer sent back, a
``key_code_prompt`` asks the user through the injectable ``prompt`` (the simulator and tests
answer it), ``key_password_prompt`` asks for an account's password through ``password_prompt``
(none given: every such prompt is skipped), ``key_done`` ends the conversation. The key stays
connected (proximity goes on); a refused key is disconnected and left alone for
``refused_retry`` seconds. A key that drops is reported ``key_gone``. The gateway never sees
inside a message: they are sealed.

A key the server accepted (``key_done``: Active, not refused) is in :attr:`KeyAgent.accepted`
until it drops. :meth:`KeyAgent.unlock` asks the server for such a key's primary account
(``key_unlock``); the server drives that conversation too, asks for the key's PIN through
the injectable ``pin_prompt`` where the key wants it (``key_pin_prompt`` → ``key_pin``) and
ends it with ``key_credentials``: the account and its password sealed to this workstation.
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bleak.exc import BleakError

from device_gateway.keys import KeyGone, KeyHeard, KeyLost, KeyRadio, Observation
from idp.errors import IdpError
from idp.workstations.commands import Command, CommandKind
from idp.workstations.wire import b64url, unb64url

log = logging.getLogger(__name__)
#: (serial, attempts left, purpose "link" or "unlock") → the code the user typed
CodePrompt = Callable[[str, int, str], Awaitable[str]]
#: (serial, account name, login, why the last answer was refused or "") → the password ("" skips)
PasswordPrompt = Callable[[str, str, str, str], Awaitable[str]]
#: (serial, attempts left or None, purpose "verify" or "set") → the PIN the user typed
PinPrompt = Callable[[str, int | None, str], Awaitable[str]]
#: how long an unlock may take, the user typing a PIN included
UNLOCK_TIMEOUT = 120.0
Send = Callable[[str, dict[str, Any]], Awaitable[bool]]
#: (serial, connected) → the workstation's event journal (key connected / disconnected)
Record = Callable[[str, bool], None]


class KeyAgent:
    def __init__(
        self,
        *,
        radio: KeyRadio,
        prompt: CodePrompt,
        password_prompt: PasswordPrompt | None = None,
        pin_prompt: PinPrompt | None = None,
        refused_retry: float = 60.0,
    ) -> None:
        self.radio = radio
        self.prompt = prompt
        self.password_prompt = password_prompt
        self.pin_prompt = pin_prompt
        self.refused_retry = refused_retry
        #: the last outcome the server reported per key (``key_done`` bodies)
        self.outcomes: dict[str, dict[str, Any]] = {}
        #: keys the server accepted on this connection (Active): their readings count
        self.accepted: set[str] = set()
        self._unlocks: dict[str, asyncio.Future[dict[str, Any] | None]] = {}
        self._send: Send | None = None
        self._record: Record | None = None
        self._busy: set[str] = set()
        self._refused_until: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        radio.listeners.append(self._observed)

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def start(self, send: Send, record: Record | None = None) -> None:
        self._send, self._record = send, record
        await self.radio.start()

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.radio.stop()

    def link_up(self) -> None:
        """The server link is (back) up: keys connected meanwhile are announced again."""
        for serial in list(self.radio.links):
            self._spawn(self._announce(serial))

    def link_down(self) -> None:
        """The server link dropped: the server forgot its conversations, so no unlock asked
        of it is answered (the keys stay accepted: the owner leaving still locks)."""
        for serial in list(self._unlocks):
            self._resolve(serial, None)

    def _observed(self, observation: Observation) -> None:
        serial = observation.serial
        if isinstance(observation, KeyLost):
            self._busy.discard(serial)
            self.accepted.discard(serial)
            self._resolve(serial, None)
            self._journal(serial, connected=False)
            self._spawn(self._say("key_gone", {"serial": serial}))
            return
        if not isinstance(observation, KeyHeard) or observation.connected or serial in self._busy:
            return
        if self._refused_until.get(serial, 0.0) > observation.at or self._send is None:
            return
        self._busy.add(serial)
        self._spawn(self._connect(serial))

    async def _connect(self, serial: str) -> None:
        try:
            await self.radio.connect(serial)
        except (BleakError, TimeoutError, KeyGone) as exc:
            log.info("could not connect key %s: %s", serial, exc)
            self._busy.discard(serial)
            return
        self._journal(serial, connected=True)
        await self._announce(serial)

    def _journal(self, serial: str, *, connected: bool) -> None:
        if self._record is not None:
            self._record(serial, connected)

    async def _announce(self, serial: str) -> None:
        await self._say("key_seen", {"serial": serial})

    async def _say(self, kind: str, body: dict[str, Any]) -> None:
        if self._send is not None:
            await self._send(kind, body)

    def command(self, command: Command) -> None:
        """A key command from the server (handled in its own task: it waits on the radio)."""
        self._spawn(self._command(command))

    async def _command(self, command: Command) -> None:
        body = command.body
        serial = str(body.get("serial", ""))
        try:
            if command.kind is CommandKind.KEY_MESSAGE:
                await self._relay(serial, unb64url(str(body.get("data", ""))))
            elif command.kind is CommandKind.KEY_CODE_PROMPT:
                code = await self.prompt(
                    serial, int(body.get("attempts_left", 0)), str(body.get("purpose", ""))
                )
                await self._say("key_code", {"serial": serial, "code": code})
            elif command.kind is CommandKind.KEY_PASSWORD_PROMPT:
                await self._password(serial, body)
            elif command.kind is CommandKind.KEY_DONE:
                await self._done(serial, body)
            elif command.kind is CommandKind.KEY_PIN_PROMPT:
                await self._pin(serial, body)
            elif command.kind is CommandKind.KEY_CREDENTIALS:
                self._resolve(serial, dict(body))
        except (KeyGone, IdpError, binascii.Error, ValueError) as exc:
            log.info("key %s: %s", serial, exc)

    async def _password(self, serial: str, body: dict[str, Any]) -> None:
        password = ""
        if self.password_prompt is not None:
            password = await self.password_prompt(
                serial,
                str(body.get("name", "")),
                str(body.get("login", "")),
                str(body.get("refused", "")),
            )
        answer = {
            "serial": serial,
            "account_id": str(body.get("account_id", "")),
            "password": password,
        }
        await self._say("key_password", answer)

    async def unlock(self, serial: str, timeout: float = UNLOCK_TIMEOUT) -> dict[str, Any] | None:
        """Ask the server for the primary account of accepted key ``serial``: the
        ``key_credentials`` body, or None (not accepted, the link is down, the key dropped,
        no answer in ``timeout`` seconds)."""
        if serial not in self.accepted or serial in self._unlocks:
            return None
        future = asyncio.get_running_loop().create_future()
        self._unlocks[serial] = future
        try:
            if self._send is None or not await self._send("key_unlock", {"serial": serial}):
                return None
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            log.info("key %s: no unlock answer within %s s", serial, timeout)
            return None
        finally:
            self._unlocks.pop(serial, None)

    def _resolve(self, serial: str, body: dict[str, Any] | None) -> None:
        future = self._unlocks.get(serial)
        if future is not None and not future.done():
            future.set_result(body)

    async def _pin(self, serial: str, body: dict[str, Any]) -> None:
        if self.pin_prompt is None or serial not in self._unlocks:
            # Nobody can type a PIN here: the unlock ends unanswered.
            self._resolve(serial, None)
            return
        left = body.get("attempts_left")
        attempts = left if isinstance(left, int) and not isinstance(left, bool) else None
        pin = await self.pin_prompt(serial, attempts, str(body.get("purpose", "verify")))
        await self._say("key_pin", {"serial": serial, "pin": pin})

    async def _relay(self, serial: str, message: bytes) -> None:
        link = self.radio.links.get(serial)
        if link is None:
            await self._say("key_gone", {"serial": serial})
            return
        answer = await link.exchange(message)
        await self._say("key_message", {"serial": serial, "data": b64url(answer)})

    async def _done(self, serial: str, body: dict[str, Any]) -> None:
        self.outcomes[serial] = dict(body)
        if not body.get("refused"):
            if body.get("status") == "active" and serial in self.radio.links:
                self.accepted.add(serial)
            return
        self.accepted.discard(serial)
        self._refused_until[serial] = self.radio.clock() + self.refused_retry
        link = self.radio.links.pop(serial, None)
        if link is not None:
            with contextlib.suppress(BleakError):
                await link.close()
        self._busy.discard(serial)
