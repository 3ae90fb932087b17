"""The server's side of the workstation link, without sockets (the adapter owns those).

:meth:`LinkService.open` takes a connection's first frame (``register`` or ``hello``) and
returns the workstation and the frames to send; :meth:`LinkService.handle` takes every later
frame. Every gateway frame is checked the same way: shape, the registered key's signature,
the timestamp within ``window`` seconds of the server's clock, and a nonce not seen before
(set-if-absent in the short-lived store, kept for twice the window). Only approved
workstations get past ``open``; the others are refused everything but registration.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric import ec

if TYPE_CHECKING:  # the vault is optional here: a link server without it refuses key frames
    from idp.vault.relay import KeyConversations

from idp.audit import AuditKind, Outcome
from idp.config.workstations import RegistrationLimit
from idp.store import rate
from idp.store.ephemeral.base import EphemeralStore
from idp.store.sql.repositories.audit import AuditRepository
from idp.workstations import commands, events
from idp.workstations.errors import (
    BadSignature,
    InvalidLinkMessage,
    RegistrationRateLimited,
    ReplayedRequest,
    StaleRequest,
    UnknownWorkstation,
    WorkstationNotApproved,
)
from idp.workstations.journal import EventJournal
from idp.workstations.model import (
    Workstation,
    WorkstationInfo,
    load_public_key,
    workstation_id_for,
)
from idp.workstations.offline_revocations import OfflineRevocations
from idp.workstations.pclogin import issue_qr
from idp.workstations.proximity import Calibration
from idp.workstations.proximity_store import ProximityRepository
from idp.workstations.registry import WorkstationRepository
from idp.workstations.wire import SignedFrame, parse_frame, server_frame, verify_frame

DEFAULT_WINDOW = 300
_NONCE_KEY = "ws-nonce:"


@dataclass(frozen=True)
class Opened:
    workstation: Workstation
    replies: tuple[str, ...]


class LinkService:
    def __init__(
        self,
        *,
        registry: WorkstationRepository,
        journal: EventJournal,
        store: EphemeralStore,
        audit: AuditRepository,
        clock: Callable[[], dt.datetime],
        window: int = DEFAULT_WINDOW,
        registration_limit: RegistrationLimit | None = None,
        proximity: ProximityRepository | None = None,
        calibration: Calibration | None = None,
        key_conversations: KeyConversations | None = None,
        revocations: OfflineRevocations | None = None,
        offline_hours: int = 72,
    ) -> None:
        self.registry = registry
        self.proximity = proximity or ProximityRepository(registry.database)
        self.calibration = calibration or Calibration()
        self.journal = journal
        self.store = store
        self.audit = audit
        self.clock = clock
        self.window = window
        self.registration_limit = registration_limit or RegistrationLimit()
        self.key_conversations = key_conversations
        #: revoked offline grants a connecting workstation is told of (the last offline_hours)
        self.revocations = revocations
        self.offline_hours = offline_hours
        self._keys: dict[str, ec.EllipticCurvePublicKey] = {}

    def _fresh(self, frame: SignedFrame, now: dt.datetime) -> None:
        skew = abs(frame.ts - now.timestamp())
        if skew > self.window:
            raise StaleRequest(
                f"the frame's time is {int(skew)} s from the server's clock (at most "
                f"{self.window} s): check the workstation's clock"
            )
        key = f"{_NONCE_KEY}{frame.workstation_id}:{frame.nonce}"
        if not self.store.add_if_absent(key, b"1", ttl=2 * self.window):
            raise ReplayedRequest("this signed frame was received before")

    def _verified(self, frame: SignedFrame, now: dt.datetime) -> Workstation:
        if frame.type == "register":
            raise InvalidLinkMessage("register is only accepted as a connection's first frame")
        workstation = self.registry.get(frame.workstation_id)
        if workstation is None:
            raise UnknownWorkstation(f"no workstation is registered as {frame.workstation_id}")
        verify_frame(frame, load_public_key(workstation.public_key))
        self._fresh(frame, now)
        return workstation

    def open(self, raw: str | bytes, *, address: str = "") -> Opened:
        """A connection's first frame; ``address`` is the peer's IP (for the rate limit)."""
        now = self.clock()
        frame = parse_frame(raw)
        if frame.type == "register":
            self._limit_registration(frame.workstation_id, address, now)
            workstation = self._register(frame, now)
        elif frame.type == "hello":
            workstation = self._verified(frame, now)
            info = WorkstationInfo.from_wire(frame.body)
            self.registry.seen(workstation.id, info=info, now=now)
        else:
            raise InvalidLinkMessage(
                f"a connection starts with register or hello, got {frame.type}"
            )
        if not workstation.approved:
            raise WorkstationNotApproved(
                f"{workstation.id} is {workstation.status.value}: an admin must approve it"
            )
        return Opened(workstation, self.welcome(workstation))

    def _limit_registration(self, workstation_id: str, address: str, now: dt.datetime) -> None:
        """Registrations of new workstations are counted before any work is done for them
        (a signature check, a row), per peer address and over all addresses: a flood of
        fresh keys fills neither the CPU nor the Pending list. A known workstation asking
        again (pending, or approved and lost its state file) adds no row and is not counted."""
        if self.registry.get(workstation_id) is not None:
            return
        limit = self.registration_limit
        for scope, most, what in (
            (f"ws-register:addr:{address}", limit.per_address, f"from {address or 'this address'}"),
            ("ws-register:all", limit.overall, "in all"),
        ):
            if rate.count(self.store, scope, now=now, window=limit.window) > most:
                raise RegistrationRateLimited(
                    f"more than {most} workstation registrations {what} in the last "
                    f"{limit.window} s: try again later (or ask an admin to approve the "
                    "pending ones)"
                )

    def _register(self, frame: SignedFrame, now: dt.datetime) -> Workstation:
        raw_key = frame.body.get("public_key")
        if not isinstance(raw_key, str) or len(raw_key) > 512:
            raise InvalidLinkMessage("register: public_key is base64 DER SubjectPublicKeyInfo")
        public_key = load_public_key(raw_key)
        # The id is the key's fingerprint: a registration cannot claim someone else's id.
        if workstation_id_for(public_key) != frame.workstation_id:
            raise BadSignature("register: the workstation id is not the fingerprint of its key")
        verify_frame(frame, public_key)
        self._fresh(frame, now)
        info = WorkstationInfo.from_wire(frame.body)
        registration = self.registry.register(
            workstation_id=frame.workstation_id, public_key=raw_key, info=info, now=now
        )
        if registration.created:
            self.audit.append_event(
                kind=AuditKind.WORKSTATION_EVENT,
                at=now,
                actor=f"workstation:{frame.workstation_id}",
                outcome=Outcome.INFO,
                details={
                    "action": "registered",
                    "workstation": frame.workstation_id,
                    "name": info.name,
                    "ip": info.ip,
                },
            )
        return registration.workstation

    def welcome(self, workstation: Workstation) -> tuple[str, ...]:
        """What a workstation gets on connecting: its status, its settings, the alarm and
        the offline-code grants revoked while it may have been away.

        The settings are a :class:`~idp.workstations.proximity.ProximityPolicy`: its own, the
        per-key ones, the RFID tags and the calibration.
        """
        alarm = self.registry.alarm()
        frames = [
            server_frame("welcome", workstation_id=workstation.id, status=workstation.status),
            commands.Command(
                commands.CommandKind.SETTINGS,
                self.proximity.policy_for(workstation, self.calibration).to_wire(),
            ).to_frame(),
            commands.alarm(alarm.active).to_frame(),
        ]
        if alarm.active:
            frames.append(commands.lock("alarm").to_frame())
        if self.revocations is not None:
            since = self.clock() - dt.timedelta(hours=self.offline_hours)
            frames.extend(r.command().to_frame() for r in self.revocations.since(since))
        return tuple(frames)

    def handle(self, workstation_id: str, raw: str | bytes) -> tuple[str, ...]:
        """One frame of an open connection; the frames to send back.

        The key is the id's (an id is its key's fingerprint), so it is cached; whether the
        workstation is still approved is checked in the transaction that stores its events.
        """
        now = self.clock()
        frame = parse_frame(raw)
        if frame.workstation_id != workstation_id:
            raise BadSignature("a connection speaks for the workstation that opened it only")
        if frame.type in ("register", "hello"):
            raise InvalidLinkMessage(f"{frame.type} is only accepted as a connection's first frame")
        verify_frame(frame, self._key(workstation_id))
        self._fresh(frame, now)
        if frame.type.startswith("key_"):
            if self.key_conversations is None:
                raise InvalidLinkMessage(f"{frame.type}: this server does not run key vaults")
            # an unlock's password is sealed to this workstation; none while the alarm is on
            unlocking = frame.type == "key_unlock"
            return self.key_conversations.handle(
                workstation_id,
                frame.type,
                frame.body,
                recipient=self._key(workstation_id) if unlocking else None,
                alarm=unlocking and self.registry.alarm().active,
            )
        if frame.type == "events":
            return self._events(workstation_id, frame, now)
        workstation = self.registry.require(workstation_id)
        qr = issue_qr(store=self.store, workstation=workstation, now=now)
        body = {"payload": qr.payload, "expires_at": qr.expires_at.isoformat()}
        return (commands.Command(commands.CommandKind.QR, body).to_frame(),)

    def _key(self, workstation_id: str) -> ec.EllipticCurvePublicKey:
        key = self._keys.get(workstation_id)
        if key is None:
            workstation = self.registry.get(workstation_id)
            if workstation is None:
                raise UnknownWorkstation(f"no workstation is registered as {workstation_id}")
            key = self._keys[workstation_id] = load_public_key(workstation.public_key)
        return key

    def _events(self, workstation_id: str, frame: SignedFrame, now: dt.datetime) -> tuple[str, ...]:
        batch = events.parse_batch(frame.body)
        ingested = self.journal.ingest(workstation_id, batch, now=now)
        replies = [
            server_frame("ack", ids=list(ingested.acknowledged), skewed=list(ingested.skewed))
        ]
        if ingested.unlocks_during_alarm:
            # The alarm refuses new unlocks: one that happened anyway is undone at once.
            replies.append(commands.lock("alarm").to_frame())
        return tuple(replies)

    def link_lost(self, workstation_id: str) -> None:
        if self.key_conversations is not None:
            self.key_conversations.link_lost(workstation_id)
        self.journal.link_lost(workstation_id, now=self.clock())
