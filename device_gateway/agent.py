"""The gateway agent: one persistent, reconnecting link to the server.

It opens with ``register`` (until the server has welcomed it once) or ``hello``, sends the
spooled events in batches and removes each only when the server's ``ack`` names it, and
carries out the server's commands through the OS actuator. When the link drops it waits
(exponential backoff) and connects again; events that happen meanwhile wait in the spool.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from device_gateway.actuator import Actuator, ActuatorError, LogonCredential
from device_gateway.identity import Identity
from device_gateway.key_agent import KeyAgent
from device_gateway.offline import OfflineGrants
from device_gateway.proximity_monitor import (
    CredentialSource,
    KeyConnected,
    KeyDisconnected,
    ProximityMonitor,
)
from device_gateway.spool import Spool
from idp.errors import IdpError
from idp.workstations import sealed
from idp.workstations.commands import Command, CommandKind
from idp.workstations.errors import (
    InvalidLinkMessage,
    OfflineCodeRefused,
)
from idp.workstations.events import EventType, UnlockedBy, WorkstationEvent, new_event
from idp.workstations.model import WorkstationInfo
from idp.workstations.wire import MAX_FRAME_BYTES, parse_server_frame, sign_frame

log = logging.getLogger(__name__)
ACK_TIMEOUT = 10.0
_KEY_COMMANDS = frozenset(
    {
        CommandKind.KEY_MESSAGE,
        CommandKind.KEY_CODE_PROMPT,
        CommandKind.KEY_PASSWORD_PROMPT,
        CommandKind.KEY_DONE,
        CommandKind.KEY_PIN_PROMPT,
        CommandKind.KEY_CREDENTIALS,
    }
)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class GatewayOptions:
    server_url: str
    info: WorkstationInfo
    batch_size: int = 100
    min_backoff: float = 0.5
    max_backoff: float = 30.0
    #: how often a workstation the server refused (pending approval) asks again
    refused_retry: float = 5.0
    tls: ssl.SSLContext | None = None
    #: run the proximity monitor (it acts once an approved workstation's settings arrive)
    proximity: bool = False


@dataclass
class GatewayState:
    """What the server last told this gateway."""

    approved: bool = False
    alarm: bool = False
    settings: dict[str, Any] = field(default_factory=dict)
    qr_payload: str | None = None
    vault_tasks_ready: int = 0
    last_error: dict[str, Any] | None = None
    connections: int = 0


class Gateway:
    def __init__(
        self,
        *,
        identity: Identity,
        spool: Spool,
        actuator: Actuator,
        options: GatewayOptions,
        clock: Callable[[], dt.datetime] = utcnow,
        credentials: CredentialSource | None = None,
        keys: KeyAgent | None = None,
    ) -> None:
        self.identity = identity
        #: the Bluetooth side (keys in range), None on a gateway without a radio
        self.keys = keys
        self.spool = spool
        self.actuator = actuator
        self.options = options
        self.clock = clock
        self.state = GatewayState()
        # Offline grants sit beside the private key that opens them (0700).
        self.offline = OfflineGrants(
            identity.directory / "offline",
            key=identity.key,
            workstation_id=identity.workstation_id,
            clock=clock,
        )
        self.connected = asyncio.Event()
        self._wake = asyncio.Event()
        self._acked = asyncio.Event()
        self._ws: ClientConnection | None = None
        #: fed by the BLE side (device_gateway.proximity_monitor); None when the option is off
        self.proximity: ProximityMonitor | None = None
        if options.proximity:
            if credentials is None:
                raise ValueError("proximity needs a credential source (the keys' primary accounts)")
            self.proximity = ProximityMonitor(gateway=self, credentials=credentials)

    # -- what happens on the workstation ----------------------------------------------------

    def record(self, type: EventType, **fields: Any) -> WorkstationEvent:
        event = new_event(type, at=self.clock(), **fields)
        self.spool.add(event)
        self._wake.set()
        return event

    def unlocked(
        self,
        *,
        account: str,
        employee: str | None,
        unlocked_by: UnlockedBy,
        key: str | None = None,
    ) -> bool:
        """The OS reports an unlock (by the user of ``key``, when one is known); during the
        alarm it is undone and reported refused."""
        if self.state.alarm:
            self._lock("alarm")
            self.record(
                EventType.UNLOCK_REFUSED,
                account=account,
                employee=employee,
                unlocked_by=unlocked_by,
            )
            return False
        self.record(EventType.UNLOCK, account=account, employee=employee, unlocked_by=unlocked_by)
        if self.proximity is not None:
            # Only this key's leaving locks the session now (none: proximity never does).
            self.proximity.session_opened(by=key)
        return True

    def _lock(self, reason: str) -> None:
        try:
            self.actuator.lock()
        except ActuatorError as exc:
            log.error("could not lock: %s", exc)
            return
        if self.proximity is not None:
            self.proximity.workstation_locked()
        self.record(EventType.LOCK, details={"reason": reason})

    # -- the link ---------------------------------------------------------------------------

    def _frame(self, type: str, body: dict[str, Any]) -> str:
        return sign_frame(
            key=self.identity.key,
            type=type,
            body=body,
            workstation_id=self.identity.workstation_id,
            ts=int(self.clock().timestamp()),
        )

    def _opening(self) -> str:
        body: dict[str, Any] = self.options.info.to_wire()
        if self.identity.registered:
            return self._frame("hello", body)
        return self._frame("register", {**body, "public_key": self.identity.public_key})

    async def run(self, stop: asyncio.Event) -> None:
        """Keep the link up until ``stop`` is set."""
        self.record(EventType.SERVICE_STARTED)
        # Proximity keeps deciding while the link is down: a user who leaves is locked out.
        monitor = None if self.proximity is None else asyncio.create_task(self.proximity.run(stop))
        if self.keys is not None:
            await self.keys.start(self.send, self._key_event)
        backoff = self.options.min_backoff
        while not stop.is_set():
            wait = backoff
            try:
                welcomed = await self._connection(stop)
                # Refused (not approved yet): ask again at a steady pace, the server answered.
                wait = self.options.min_backoff if welcomed else self.options.refused_retry
                backoff = self.options.min_backoff
            except (OSError, ConnectionClosed, InvalidHandshake, TimeoutError) as exc:
                log.info("link to %s down: %s", self.options.server_url, exc)
                backoff = min(backoff * 2, self.options.max_backoff)
            if stop.is_set():
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
        if monitor is not None:
            await monitor
        if self.keys is not None:
            await self.keys.stop()
        self.record(EventType.SERVICE_STOPPED)

    async def _connection(self, stop: asyncio.Event) -> bool:
        """One connection, until it closes; False if the server refused it at once."""
        try:
            client = connect(
                self.options.server_url,
                ssl=self.options.tls,
                max_size=MAX_FRAME_BYTES,
                open_timeout=5,
            )
        except InvalidURI as exc:
            raise OSError(str(exc)) from exc
        async with client as ws:
            await ws.send(self._opening())
            first = parse_server_frame(await asyncio.wait_for(ws.recv(), ACK_TIMEOUT))
            if first["type"] != "welcome":
                self._refused(first)
                return False
            self.identity.mark_registered()
            self.state.approved, self.state.last_error = True, None
            self.state.connections += 1
            self._ws = ws
            self.record(EventType.SERVER_CONNECTED)
            if self.keys is not None:
                self.keys.link_up()
            sender = asyncio.create_task(self._send_loop(ws))
            stopper = asyncio.create_task(self._close_on(stop, ws))
            try:
                async for raw in ws:
                    try:
                        self._on_frame(parse_server_frame(raw))
                    except IdpError as exc:
                        # A frame or command we cannot use is dropped; the link stays up.
                        log.error("ignored a server frame: %s", exc.description)
            finally:
                sender.cancel()
                stopper.cancel()
                self._ws = None
                self.connected.clear()
                if self.keys is not None:
                    self.keys.link_down()
                if not stop.is_set():
                    self.record(EventType.SERVER_DISCONNECTED)
        return True

    def _refused(self, frame: dict[str, Any]) -> None:
        self.state.last_error = frame
        self.state.approved = False
        if self.proximity is not None:
            self.proximity.configure(None)  # a workstation no longer approved acts on nothing
        if frame.get("error") == "unknown_workstation":
            # The server forgot us (a new database): register again on the next attempt.
            self.identity.registered = False
        log.info("server refused the link: %s", frame.get("error_description"))

    @staticmethod
    async def _close_on(stop: asyncio.Event, ws: ClientConnection) -> None:
        await stop.wait()
        await ws.close()

    async def _send_loop(self, ws: ClientConnection) -> None:
        self.connected.set()
        while True:
            batch = self.spool.pending(self.options.batch_size)
            if not batch:
                self._wake.clear()
                await self._wake.wait()
                continue
            self._acked.clear()
            await ws.send(self._frame("events", {"events": [e.to_wire() for e in batch]}))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._acked.wait(), ACK_TIMEOUT)

    def _key_event(self, serial: str, connected: bool) -> None:
        if self.proximity is not None:
            # The monitor journals it (details.key) and a lost connection may lock.
            t = self.proximity.clock()
            self.proximity.feed(
                KeyConnected(serial, t) if connected else KeyDisconnected(serial, t)
            )
            return
        kind = EventType.KEY_CONNECTED if connected else EventType.KEY_DISCONNECTED
        self.record(kind, details={"key": serial})

    async def send(self, type: str, body: dict[str, Any]) -> bool:
        """Send one signed frame now; False when the link is down (the frame is dropped)."""
        ws = self._ws
        if ws is None:
            return False
        try:
            await ws.send(self._frame(type, body))
        except ConnectionClosed:
            return False
        return True

    async def request_qr(self) -> None:
        if self._ws is not None:
            await self._ws.send(self._frame("qr_request", {}))

    def _on_frame(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == "ack":
            self.spool.ack([str(i) for i in frame.get("ids", [])])
            self._acked.set()
        elif kind == "command":
            self._command(Command.from_wire(frame))
        elif kind == "error":
            self.state.last_error = frame
            self._acked.set()
            log.error("server: %s", frame.get("error_description"))

    def _command(self, command: Command) -> None:
        body = command.body
        if command.kind is CommandKind.SETTINGS:
            self.state.settings = dict(body)
            if self.proximity is not None and self.state.approved:
                self.proximity.configure(self.state.settings)
        elif command.kind is CommandKind.LOCK:
            self._lock(str(body.get("reason", "server")))
        elif command.kind is CommandKind.ALARM:
            self.state.alarm = bool(body.get("active"))
            if self.proximity is not None:
                self.proximity.set_alarm(self.state.alarm)
        elif command.kind is CommandKind.CREDENTIALS:
            self._credentials(body)
        elif command.kind is CommandKind.QR:
            self.state.qr_payload = str(body.get("payload"))
        elif command.kind is CommandKind.STATUS:
            self.state.approved = body.get("status") == "approved"
            if self.proximity is not None and not self.state.approved:
                self.proximity.configure(None)
        elif command.kind is CommandKind.VAULT_TASKS:
            self.state.vault_tasks_ready += 1
        elif command.kind is CommandKind.OFFLINE_REVOKE:
            self.offline.revoke(body.get("device_id"), body.get("revoked_at"))
        elif command.kind in _KEY_COMMANDS and self.keys is not None:
            self.keys.command(command)

    def _credentials(self, body: dict[str, Any]) -> None:
        account = str(body.get("account", ""))
        raw_employee = body.get("employee")
        employee = raw_employee if isinstance(raw_employee, str) and raw_employee else None
        if self.state.alarm:
            self.record(
                EventType.UNLOCK_REFUSED,
                account=account,
                employee=employee,
                details={"reason": "alarm"},
            )
            return
        method = body.get("method")
        if method == "password":
            secret = sealed.open_text(
                body.get("sealed"),
                key=self.identity.key,
                purpose=sealed.PASSWORD_PURPOSE,
                workstation_id=self.identity.workstation_id,
            )
        elif method == "certificate":
            secret = str(body.get("certificate", ""))
        else:
            raise InvalidLinkMessage(f"credentials: unknown method {method!r}")
        self._unlock_with(LogonCredential(account, method, secret), employee, {"method": method})
        grant = body.get("offline")
        if method == "password" and isinstance(grant, dict) and employee is not None:
            # Kept after the unlock: a malformed grant is dropped (and logged), not the login.
            self.offline.keep(
                body=grant, employee=employee, account=account, sealed_password=body.get("sealed")
            )

    def _unlock_with(
        self, credential: LogonCredential, employee: str | None, details: dict[str, str]
    ) -> bool:
        try:
            self.actuator.unlock(credential)
        except ActuatorError as exc:
            log.error("could not unlock: %s", exc)
            return False
        self.record(
            EventType.UNLOCK,
            account=credential.account,
            employee=employee,
            unlocked_by=UnlockedBy.PHONE,
            details=details,
        )
        return True

    def offline_unlock(self, code: str) -> bool:
        """The lock screen took an offline code from the phone (the server is unreachable).

        Raises :class:`OfflineCodeRefused` for a wrong, used or expired code, and while the
        alarm (as last heard from the server) is on; the event reaches the server later.
        """
        if self.state.alarm:
            self.record(EventType.UNLOCK_REFUSED, details={"reason": "alarm", "method": "offline"})
            raise OfflineCodeRefused("the emergency alarm is on: no workstation may be unlocked")
        redeemed = self.offline.redeem(code)
        grant = redeemed.grant
        credential = LogonCredential(grant.account, "password", redeemed.password)
        details = {"method": "offline_code", "device_id": grant.device_id}
        return self._unlock_with(credential, grant.employee, details)
