"""Key frames through the link service itself: signed, fresh, once; refused without a vault."""

from __future__ import annotations

import json

import pytest

from idp.store.ephemeral.base import EphemeralStore
from idp.store.sql import AuditRepository, Database
from idp.vault.model import KeyImport
from idp.vault.relay import KeyConversations
from idp.workstations.errors import InvalidLinkMessage, ReplayedRequest
from idp.workstations.journal import EventJournal
from idp.workstations.link import LinkService
from idp.workstations.registry import WorkstationRepository
from tests.idp.vault.conftest import ADMIN, Vaults
from tests.idp.workstations.test_link_hostile import NOW, _approved

SERIAL = "ST10301234567890"


def service(db: Database, store: EphemeralStore, keys: KeyConversations | None) -> LinkService:
    return LinkService(
        registry=WorkstationRepository(db),
        journal=EventJournal(db),
        store=store,
        audit=AuditRepository(db),
        clock=lambda: NOW,
        key_conversations=keys,
    )


def test_key_frames_need_a_vault(db: Database, ephemeral: EphemeralStore) -> None:
    link = service(db, ephemeral, None)
    station = _approved(link)
    with pytest.raises(InvalidLinkMessage, match="does not run key vaults"):
        link.handle(station.id, station.frame("key_seen", {"serial": SERIAL}))


def test_a_signed_key_frame_starts_a_conversation_once(
    db: Database, ephemeral: EphemeralStore, vaults: Vaults
) -> None:
    vaults.service.import_keys(
        actor=ADMIN, keys=[KeyImport(SERIAL, "AA:BB:CC:00:00:41", "Hideez Key 4", "4.0.1")]
    )
    keys = KeyConversations(vault=vaults.service)
    link = service(db, ephemeral, keys)
    station = _approved(link)
    seen = station.frame("key_seen", {"serial": SERIAL})
    [reply] = link.handle(station.id, seen)
    command = json.loads(reply)
    assert command["kind"] == "key_message" and command["body"]["serial"] == SERIAL
    with pytest.raises(ReplayedRequest):
        link.handle(station.id, seen)
    assert keys.open_conversations(station.id) == 1
    link.link_lost(station.id)
    assert keys.open_conversations(station.id) == 0
