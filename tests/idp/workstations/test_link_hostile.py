"""Hostile gateway frames against the link service: each refused with its typed error, and
nothing stored (unregistered or revoked key, replay, forged id, oversized batch, stale time,
far-off event times accepted but flagged)."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from idp.store.ephemeral.base import EphemeralStore
from idp.store.sql import AuditRepository, Database
from idp.workstations.errors import (
    BadSignature,
    InvalidLinkMessage,
    LinkMessageTooLarge,
    ReplayedRequest,
    StaleRequest,
    UnknownWorkstation,
    WorkstationNotApproved,
)
from idp.workstations.events import MAX_BATCH, EventType, new_event
from idp.workstations.journal import EventJournal
from idp.workstations.link import LinkService
from idp.workstations.model import WorkstationStatus, public_key_b64, workstation_id_for
from idp.workstations.registry import WorkstationRepository
from idp.workstations.wire import sign_frame

NOW = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)
INFO = {
    "name": "pc-1",
    "domain": "CORP",
    "os": "Windows 11",
    "ip": "10.0.0.7",
    "client_version": "1.0.0",
}


class Station:
    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.id = workstation_id_for(self.key.public_key())

    def frame(
        self,
        type: str,
        body: dict[str, object],
        *,
        ts: dt.datetime = NOW,
        nonce: str | None = None,
        ws_id: str | None = None,
    ) -> str:
        return sign_frame(
            key=self.key,
            type=type,
            body=body,
            ts=int(ts.timestamp()),
            workstation_id=ws_id or self.id,
            nonce=nonce,
        )

    def register(self) -> str:
        return self.frame("register", {**INFO, "public_key": public_key_b64(self.key.public_key())})

    def events(self, n: int = 1, at: dt.datetime = NOW) -> str:
        batch = [new_event(EventType.KEY_CONNECTED, at=at).to_wire() for _ in range(n)]
        return self.frame("events", {"events": batch})


@pytest.fixture
def link(db: Database, ephemeral: EphemeralStore) -> LinkService:
    return LinkService(
        registry=WorkstationRepository(db),
        journal=EventJournal(db),
        store=ephemeral,
        audit=AuditRepository(db),
        clock=lambda: NOW,
    )


def _approved(link: LinkService) -> Station:
    station = Station()
    with pytest.raises(WorkstationNotApproved):
        link.open(station.register())
    link.registry.set_status(station.id, WorkstationStatus.APPROVED, by="root", now=NOW)
    link.open(station.frame("hello", INFO))
    return station


def test_pending_workstation_is_refused_everything_but_registration(link: LinkService) -> None:
    station = Station()
    with pytest.raises(WorkstationNotApproved, match="pending: an admin must approve it"):
        link.open(station.register())
    assert link.registry.require(station.id).status is WorkstationStatus.PENDING
    with pytest.raises(WorkstationNotApproved):
        link.open(station.frame("hello", INFO))
    with pytest.raises(WorkstationNotApproved):
        link.handle(station.id, station.events())
    assert link.journal.events().total == 0


def test_unregistered_key_is_refused(link: LinkService) -> None:
    with pytest.raises(UnknownWorkstation, match="no workstation is registered"):
        link.open(Station().frame("hello", INFO))


@pytest.mark.parametrize("status", [WorkstationStatus.UNAPPROVED, WorkstationStatus.REMOVED])
def test_revoked_workstation_is_refused_and_its_events_are_not_stored(
    link: LinkService, status: WorkstationStatus
) -> None:
    station = _approved(link)
    link.registry.set_status(station.id, status, by="root", now=NOW)
    with pytest.raises(WorkstationNotApproved, match=status.value):
        link.handle(station.id, station.events())
    with pytest.raises(WorkstationNotApproved):
        link.open(station.frame("hello", INFO))
    assert link.journal.events().total == 0


def test_replayed_signed_frame_is_refused_and_stores_nothing_twice(link: LinkService) -> None:
    station = _approved(link)
    frame = station.events(3)
    link.handle(station.id, frame)
    with pytest.raises(ReplayedRequest):
        link.handle(station.id, frame)
    assert link.journal.events().total == 3


def test_forged_workstation_id_is_refused(link: LinkService) -> None:
    victim, forger = _approved(link), _approved(link)
    # Signed by the forger's key but naming the victim: the victim's key does not verify it.
    with pytest.raises(BadSignature):
        link.handle(victim.id, forger.frame("events", {"events": []}, ws_id=victim.id))
    # Registering under the victim's id with another key: the id is the key's fingerprint.
    forged = forger.frame(
        "register", {**INFO, "public_key": public_key_b64(forger.key.public_key())}, ws_id=victim.id
    )
    with pytest.raises(BadSignature, match="fingerprint"):
        link.open(forged)
    # A frame of one workstation on another's connection.
    with pytest.raises(BadSignature, match="opened it only"):
        link.handle(victim.id, forger.events())
    assert link.journal.events().total == 0
    assert link.registry.require(victim.id).public_key == public_key_b64(victim.key.public_key())


def test_tampered_frame_fails_its_signature(link: LinkService) -> None:
    station = _approved(link)
    frame = json.loads(station.events())
    frame["body"]["events"][0]["type"] = "unlock"
    with pytest.raises(BadSignature):
        link.handle(station.id, json.dumps(frame))


def test_oversized_batch_is_refused_whole(link: LinkService) -> None:
    station = _approved(link)
    with pytest.raises(LinkMessageTooLarge, match=f"at most {MAX_BATCH}"):
        link.handle(station.id, station.events(MAX_BATCH + 1))
    with pytest.raises(LinkMessageTooLarge):
        link.handle(station.id, "x" * (300 * 1024))
    assert link.journal.events().total == 0


@pytest.mark.parametrize("offset", [dt.timedelta(minutes=-6), dt.timedelta(minutes=6)])
def test_frame_time_outside_the_window_is_refused(link: LinkService, offset: dt.timedelta) -> None:
    station = _approved(link)
    with pytest.raises(StaleRequest, match="from the server's clock"):
        link.handle(station.id, station.frame("events", {"events": []}, ts=NOW + offset))


def test_event_times_far_off_are_accepted_and_flagged(link: LinkService) -> None:
    station = _approved(link)
    future = new_event(EventType.LOCK, at=NOW + dt.timedelta(days=2)).to_wire()
    ancient = new_event(EventType.LOCK, at=NOW - dt.timedelta(days=400)).to_wire()
    normal = new_event(EventType.LOCK, at=NOW - dt.timedelta(minutes=1)).to_wire()
    replies = link.handle(
        station.id, station.frame("events", {"events": [future, ancient, normal]})
    )
    ack = json.loads(replies[0])
    assert set(ack["ids"]) == {future["id"], ancient["id"], normal["id"]}
    assert set(ack["skewed"]) == {future["id"], ancient["id"]}
    flagged = {e.event.id: e.clock_skew for e in link.journal.events().items}
    assert flagged == {future["id"]: True, ancient["id"]: True, normal["id"]: False}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"events": "nope"}, "non-empty list"),
        ({"events": [{"id": "1", "type": "lock", "at": NOW.isoformat()}]}, "UUID"),
        (
            {"events": [{"id": str(uuid.uuid4()), "type": "explode", "at": NOW.isoformat()}]},
            "expected one of",
        ),
        ({"events": [{"id": str(uuid.uuid4()), "type": "lock", "at": "2026-12-02T09:00"}]}, "zone"),
        (
            {
                "events": [
                    {
                        "id": str(uuid.uuid4()),
                        "type": "lock",
                        "at": NOW.isoformat(),
                        "details": {"Bad Name": "x"},
                    }
                ]
            },
            "names are",
        ),
        (
            {
                "events": [
                    {
                        "id": str(uuid.uuid4()),
                        "type": "lock",
                        "at": NOW.isoformat(),
                        "account": "a" * 300,
                    }
                ]
            },
            "at most 255",
        ),
    ],
)
def test_malformed_events_are_refused_with_what_was_wrong(
    link: LinkService, body: dict[str, object], message: str
) -> None:
    station = _approved(link)
    with pytest.raises(InvalidLinkMessage, match=message):
        link.handle(station.id, station.frame("events", body))
    assert link.journal.events().total == 0


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "[]",
        "{}",
        '{"v":1}',
        "\x00\x01",
        json.dumps(
            {
                "v": 2,
                "type": "hello",
                "workstation_id": "ws-" + "a" * 32,
                "ts": 1,
                "nonce": "n" * 22,
                "body": {},
                "sig": "s" * 70,
            }
        ),
    ],
)
def test_garbage_first_frames_are_refused(link: LinkService, raw: str) -> None:
    with pytest.raises(InvalidLinkMessage):
        link.open(raw)
    assert link.registry.list().total == 0
