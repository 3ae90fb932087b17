"""The gateway's identity (made once, 0600, refused when too open) and its disk spool (kept
across restarts, resent in order, removed only on acknowledgement)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from device_gateway.actuator import RecordingActuator, actuator_for
from device_gateway.identity import Identity, IdentityError
from device_gateway.spool import Spool
from idp.workstations.events import EventType, new_event
from idp.workstations.model import WORKSTATION_ID

NOW = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)


def test_identity_is_made_once_with_0600_and_kept(tmp_path: Path) -> None:
    first = Identity.load_or_create(tmp_path / "id")
    key_file = tmp_path / "id" / "workstation.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert WORKSTATION_ID.fullmatch(first.workstation_id)
    assert not first.registered
    first.mark_registered()
    again = Identity.load_or_create(tmp_path / "id")
    assert again.workstation_id == first.workstation_id and again.registered


def test_identity_readable_by_others_is_refused(tmp_path: Path) -> None:
    Identity.load_or_create(tmp_path / "id")
    os.chmod(tmp_path / "id" / "workstation.key", 0o644)
    with pytest.raises(IdentityError, match="readable by others"):
        Identity.load_or_create(tmp_path / "id")


def test_identity_that_is_not_an_ec_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "id").mkdir()
    path = tmp_path / "id" / "workstation.key"
    path.write_bytes(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    path.chmod(0o600)
    with pytest.raises((IdentityError, ValueError)):
        Identity.load_or_create(tmp_path / "id")


def test_spool_survives_a_restart_in_order_and_acks_remove(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    events = [new_event(EventType.LOCK, at=NOW + dt.timedelta(seconds=n)) for n in range(5)]
    for event in events:
        spool.add(event)
    restarted = Spool(tmp_path / "spool")
    assert [e.id for e in restarted.pending(10)] == [e.id for e in events]
    assert restarted.ack([events[0].id, events[1].id, "not-spooled"]) == 2
    restarted.add(new_event(EventType.UNLOCK, at=NOW))
    again = Spool(tmp_path / "spool")
    assert [e.id for e in again.pending(3)] == [e.id for e in events[2:5]]
    assert len(again) == 4
    assert not list((tmp_path / "spool").glob("*.tmp"))


def test_actuators_by_name() -> None:
    recording = actuator_for("recording")
    assert isinstance(recording, RecordingActuator)
    recording.lock()
    assert recording.locked and recording.calls == [("lock", None)]
    with pytest.raises(ValueError, match="windows, linux, recording or auto"):
        actuator_for("macos")
