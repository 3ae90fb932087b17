"""The proximity engine on scripted RSSI walks with a fake clock (times in seconds).

Default calibration: -90 dBm → 0, -40 dBm → 100, so proximity = 2 × (rssi + 90); the band
between lock (30) and unlock (70) is -75 .. -55 dBm; the proximity is the median of 3.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import MappingProxyType
from typing import Any

import pytest

from idp.workstations.errors import InvalidLinkMessage, InvalidWorkstationInput
from idp.workstations.events import UnlockedBy
from idp.workstations.model import ProximitySettings
from idp.workstations.proximity import (
    Calibration,
    Decision,
    Lock,
    LockReason,
    ProximityEngine,
    ProximityPolicy,
    Unlock,
    rfid_tag,
)

ALICE, BOB = "HK-ALICE-0001", "HK-BOB-0002"


def engine(**policy: Any) -> ProximityEngine:
    e = ProximityEngine()
    e.configure(ProximityPolicy(**policy))
    return e


def walk(e: ProximityEngine, serial: str, steps: Iterable[tuple[float, float]]) -> list[Any]:
    """Feed (t, rssi) readings; the decisions with the time each was made."""
    out: list[tuple[float, Decision]] = []
    for t, rssi in steps:
        decision = e.observe(serial=serial, rssi=rssi, t=t)
        if decision is not None:
            out.append((t, decision))
    return out


def every(start: float, end: float, rssi: float, step: float = 0.5) -> list[tuple[float, float]]:
    n = round((end - start) / step)
    return [(start + i * step, rssi) for i in range(n + 1)]


def test_the_mapping_is_linear_between_far_and_near_and_clamped() -> None:
    c = Calibration()
    assert [c.proximity(r) for r in (-90, -75, -65, -55, -40)] == [0, 30, 50, 70, 100]
    assert c.proximity(-20) == 100 and c.proximity(-127) == 0
    assert Calibration(rssi_near=-50, rssi_far=-70).proximity(-60) == 50


def test_the_scripted_walk_unlocks_lingers_locks_by_proximity_and_by_timeout() -> None:
    e = engine()
    approach = [(0.0, -85), (0.5, -75), (1.0, -65), (1.5, -50), (2.0, -48)]
    # medians: 10, 20, 30, 50, 80 → the unlock is at 2.0, the first median ≥ 70
    assert walk(e, ALICE, approach) == [(2.0, Unlock(ALICE, UnlockedBy.PROXIMITY))]
    assert e.owner == ALICE
    # Lingering in the band (40-60, between lock 30 and unlock 70) for 10 s: nothing.
    linger = [(2.5 + i * 0.5, -60 if i % 2 else -70) for i in range(20)]
    assert walk(e, ALICE, linger) == []
    assert e.next_deadline() == 12.0 + 10  # unheard for 2 × 5 s
    # Leaving: below 30 from the median at 13.0; the lock comes 5 s later, not before.
    leave = [(12.5, -80), *every(13.0, 17.5, -85)]
    assert walk(e, ALICE, leave) == []
    assert e.next_deadline() == 18.0
    assert e.tick(t=17.99) is None
    assert e.tick(t=18.0) == Lock(ALICE, LockReason.PROXIMITY)
    assert e.locked and e.owner is None and e.tick(t=18.5) is None
    # Back (it was below the lock threshold, so it is armed), then vanish: 2 × 5 s unheard.
    back = every(20.0, 21.0, -45)
    assert walk(e, ALICE, back) == [(20.5, Unlock(ALICE, UnlockedBy.PROXIMITY))]
    assert e.next_deadline() == 31.0
    assert e.tick(t=30.9) is None
    assert e.tick(t=31.0) == Lock(ALICE, LockReason.TIMEOUT)
    assert e.next_deadline() is None and e.tick(t=60) is None


def test_a_new_calibration_drops_the_readings_but_not_when_the_owner_was_heard() -> None:
    e = engine()
    walk(e, ALICE, every(0, 1, -45))
    e.configure(ProximityPolicy(calibration=Calibration(samples=5)))
    assert e.next_deadline() == 11.0  # unheard since 1.0
    assert e.tick(t=10.9) is None and e.tick(t=11.0) == Lock(ALICE, LockReason.TIMEOUT)
    # The new median is over the readings made under the new mapping only.
    walk(e, ALICE, [(20.0, -45), (20.5, -88)])
    assert e.proximity_of(ALICE) == (90 + 4) / 2


def test_a_single_spike_is_smoothed_away() -> None:
    e = engine()
    steps = [(0.0, -80), (0.5, -80), (1.0, -45), (1.5, -80), (2.0, -80)]
    assert walk(e, ALICE, steps) == []


def test_readings_no_radio_can_make_are_ignored() -> None:
    e = engine()
    bogus = [(0.0, float("nan")), (0.5, float("inf")), (1.0, 50.0), (1.5, -300.0)]
    assert walk(e, ALICE, bogus) == [] and e.proximity_of(ALICE) is None
    assert walk(e, ALICE, every(2, 3, -45))[0][1] == Unlock(ALICE, UnlockedBy.PROXIMITY)
    # Garbage from the owner's key does not keep it "heard": it still times out.
    assert walk(e, ALICE, every(3.5, 13.5, float("nan"))) == [
        (13.0, Lock(ALICE, LockReason.TIMEOUT))
    ]


def test_connection_loss_locks_the_owners_session_only() -> None:
    e = engine()
    walk(e, ALICE, every(0, 1, -45))
    walk(e, BOB, every(0, 1, -45))
    assert e.connection_lost(serial=BOB, t=1.5) is None
    assert e.connection_lost(serial=ALICE, t=1.5) == Lock(ALICE, LockReason.CONNECTION_LOST)
    assert e.connection_lost(serial=ALICE, t=2.0) is None  # already locked


def test_another_users_key_leaving_or_vanishing_does_nothing() -> None:
    e = engine()
    assert walk(e, ALICE, every(0, 1, -45))[0][1] == Unlock(ALICE, UnlockedBy.PROXIMITY)
    decisions = walk(e, BOB, [*every(0, 3, -45), *every(3.5, 12, -88)])
    decisions += [(t, d) for t in (20.0, 40.0) if (d := e.tick(t=t)) is not None]
    assert [d for _, d in decisions if not (isinstance(d, Lock) and d.serial == ALICE)] == []
    # Alice was not heard after 1.0: her own absence is what locked the workstation.
    assert decisions == [(11.0, Lock(ALICE, LockReason.TIMEOUT))]


def test_a_session_opened_without_a_key_is_never_locked_by_proximity() -> None:
    e = engine()
    e.session_opened(by=None)
    assert walk(e, ALICE, [*every(0, 1, -45), *every(1.5, 10, -88)]) == []
    assert e.tick(t=100) is None and not e.locked


def test_a_manual_lock_with_the_key_near_sticks_until_the_key_leaves() -> None:
    e = engine()
    e.session_opened(by=ALICE)
    walk(e, ALICE, every(0, 1, -45))
    e.workstation_locked()
    assert walk(e, ALICE, every(1.5, 5, -45)) == []
    steps = [*every(5.5, 7, -85), *every(7.5, 8.5, -45)]
    assert walk(e, ALICE, steps) == [(8.0, Unlock(ALICE, UnlockedBy.PROXIMITY))]


def test_tap_and_go_unlocks_at_once_above_minus_33_dbm() -> None:
    e = engine()
    e.session_opened(by=ALICE)
    walk(e, ALICE, every(0, 1, -45))
    e.workstation_locked()  # disarmed: proximity alone does not unlock
    assert e.observe(serial=ALICE, rssi=-33, t=1.5) is None  # not above -33
    assert e.observe(serial=ALICE, rssi=-30, t=2.0) == Unlock(ALICE, UnlockedBy.DONGLE)
    assert e.observe(serial=ALICE, rssi=-30, t=2.5) is None  # already unlocked


def test_rfid_unlocks_with_the_key_the_server_mapped_the_tag_to() -> None:
    e = engine(rfid=MappingProxyType({"04a2b3c4": BOB}))
    assert e.rfid(tag="DEADBEEF", t=0) is None  # unknown tag
    assert e.rfid(tag="not a tag", t=0) is None  # garbled read
    assert e.rfid(tag="04:A2:B3:C4", t=0) == Unlock(BOB, UnlockedBy.RFID)
    assert e.owner == BOB
    assert e.rfid(tag="04a2b3c4", t=1) is None  # already unlocked


def test_an_unapproved_workstation_or_one_without_settings_decides_nothing() -> None:
    e = ProximityEngine()
    assert walk(e, ALICE, [*every(0, 1, -30), *every(1.5, 20, -88)]) == []
    assert e.rfid(tag="04a2b3c4", t=0) is None
    assert e.connection_lost(serial=ALICE, t=1) is None and e.tick(t=100) is None
    assert e.next_deadline() is None
    # Settings withdrawn (unapproved) while a session is open: it stops acting at once.
    e = engine()
    walk(e, ALICE, every(0, 1, -45))
    e.configure(None)
    assert e.connection_lost(serial=ALICE, t=2) is None and e.tick(t=60) is None


def test_the_alarm_refuses_every_unlock_but_still_locks() -> None:
    e = engine(rfid=MappingProxyType({"04a2b3c4": ALICE}))
    e.set_alarm(True)
    assert walk(e, ALICE, [*every(0, 2, -45), (2.5, -30)]) == []
    assert e.rfid(tag="04a2b3c4", t=3) is None
    e.session_opened(by=ALICE)  # unlocked anyway (the gateway relocks it; the engine follows)
    assert e.connection_lost(serial=ALICE, t=4) == Lock(ALICE, LockReason.CONNECTION_LOST)


def test_per_key_settings_apply_to_that_key_only() -> None:
    strict = ProximitySettings(lock_proximity=50, unlock_proximity=90, lock_timeout=2)
    e = engine(keys=MappingProxyType({ALICE: strict}))
    assert walk(e, ALICE, every(0, 2, -50)) == []  # 80 < 90
    assert walk(e, BOB, every(0, 1, -50))[0][1] == Unlock(BOB, UnlockedBy.PROXIMITY)
    e.workstation_locked()
    e = engine(keys=MappingProxyType({ALICE: strict}))
    walk(e, ALICE, every(0, 1, -43))
    walk(e, ALICE, every(1.5, 3, -70))  # 40: below Alice's 50 from 2.0, her timeout is 2 s
    assert e.tick(t=4.0) == Lock(ALICE, LockReason.PROXIMITY)


@pytest.mark.parametrize(
    ("lock", "unlock", "timeout", "message"),
    [
        (70, 70, 5, "must be above"),
        (80, 30, 5, "must be above"),
        (-1, 70, 5, "0-100"),
        (30, 101, 5, "0-100"),
        (30, 70, 0, "1-300"),
        (30, 70, 301, "1-300"),
    ],
)
def test_invalid_settings_are_refused(lock: int, unlock: int, timeout: int, message: str) -> None:
    with pytest.raises(InvalidWorkstationInput, match=message):
        ProximitySettings(lock, unlock, timeout)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"rssi_near": -90, "rssi_far": -40}, "must be above"),
        ({"rssi_near": 5}, "-127..0"),
        ({"tap_rssi": -200}, "-127..0"),
        ({"samples": 0}, "1-15"),
        ({"samples": 16}, "1-15"),
    ],
)
def test_invalid_calibrations_are_refused(fields: dict[str, int], message: str) -> None:
    with pytest.raises(InvalidWorkstationInput, match=message):
        Calibration(**fields)


def test_a_policy_round_trips_through_its_wire_form() -> None:
    policy = ProximityPolicy(
        defaults=ProximitySettings(20, 80, 10),
        keys=MappingProxyType({ALICE: ProximitySettings(25, 75, 6)}),
        rfid=MappingProxyType({"04a2b3c4": ALICE}),
        calibration=Calibration(rssi_near=-45, rssi_far=-95, samples=5),
    )
    assert ProximityPolicy.from_wire(policy.to_wire()) == policy
    # The workstation-only body of older servers is a policy with no keys and no tags.
    assert ProximityPolicy.from_wire(ProximitySettings().to_wire()) == ProximityPolicy()


GOOD = ProximityPolicy().to_wire()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"lock_proximity": "30"}, "integer"),
        ({"lock_proximity": True}, "integer"),
        ({"unlock_proximity": 20}, "must be above"),
        ({"lock_timeout": None}, "integer"),
        ({"keys": []}, "keys"),
        ({"keys": {"bad serial!": ProximitySettings().to_wire()}}, "key serial"),
        ({"keys": {ALICE: {"lock_proximity": 30}}}, "missing"),
        ({"keys": {ALICE: "30/70/5"}}, "object"),
        ({"keys": {f"K{i}": ProximitySettings().to_wire() for i in range(1001)}}, "at most"),
        ({"rfid": {"xyz": ALICE}}, "tag UID"),
        ({"rfid": {"04a2b3c4": "../etc"}}, "key serial"),
        ({"rfid": "04a2b3c4"}, "rfid"),
        ({"calibration": {"rssi_near": -100}}, "must be above"),
        ({"calibration": {"gain": 3}}, "documented types"),
        ({"calibration": []}, "object"),
    ],
)
def test_hostile_settings_bodies_are_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidLinkMessage, match=message):
        ProximityPolicy.from_wire({**GOOD, **change})


def test_tags_are_normalised_and_checked() -> None:
    assert rfid_tag("04:A2:B3:C4:D5:E6:F7") == "04a2b3c4d5e6f7"
    for bad in ("04a2b3", "04a2b3c4d", "zz" * 4, "00" * 11, 1234):
        with pytest.raises(InvalidWorkstationInput):
            rfid_tag(bad)
