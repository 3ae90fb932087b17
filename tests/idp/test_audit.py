"""The audit chain: tampering with any field, deleting, reordering or truncating is detected
at the right sequence number."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

import pytest

from idp.audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditEvent,
    AuditKind,
    Outcome,
    canonical_json,
    chain_hash,
    seal,
    verify_chain,
)

T0 = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)


def build_chain(n: int = 6) -> list[AuditEvent]:
    events: list[AuditEvent] = []
    prev = GENESIS_HASH
    for i in range(n):
        entry = AuditEntry(
            at=T0 + dt.timedelta(seconds=i),
            kind=AuditKind.LOGIN_SUCCESS if i % 2 else AuditKind.LOGIN_FAILURE,
            actor=f"emp-{i}",
            outcome=Outcome.SUCCESS if i % 2 else Outcome.FAILURE,
            employee_id=f"emp-{i}",
            relying_party="https://github.com/orgs/acme",
            factor="passkey",
            reason=None if i % 2 else "wrong signature",
            details={"ip": f"10.0.0.{i}"},
        )
        event = seal(entry, seq=i + 1, prev_hash=prev)
        events.append(event)
        prev = event.hash
    return events


def test_intact_chain_verifies() -> None:
    chain = build_chain()
    report = verify_chain(chain, expected_last=(6, chain[-1].hash))
    assert report.ok
    assert report.checked == 6
    assert report.last_seq == 6
    assert report.first_broken_seq is None


def test_empty_chain_verifies() -> None:
    assert verify_chain([], expected_last=(0, GENESIS_HASH)).ok


def test_first_event_links_to_genesis() -> None:
    chain = build_chain(1)
    assert chain[0].prev_hash == GENESIS_HASH
    assert chain[0].hash == chain_hash(GENESIS_HASH, chain[0])


def tamper(chain: Sequence[AuditEvent], index: int, **changes: object) -> list[AuditEvent]:
    copy = list(chain)
    copy[index] = dataclasses.replace(copy[index], **changes)  # type: ignore[arg-type]
    return copy


@pytest.mark.parametrize(
    "field,value",
    [
        ("at", T0 + dt.timedelta(days=1)),
        ("kind", AuditKind.ADMIN_CHANGE),
        ("actor", "mallory"),
        ("outcome", Outcome.SUCCESS),
        ("employee_id", "someone-else"),
        ("relying_party", "https://evil.example"),
        ("factor", "totp"),
        ("reason", "edited"),
        ("details", {"ip": "192.0.2.1"}),
        ("prev_hash", "f" * 64),
        ("hash", "e" * 64),
    ],
)
def test_tampering_any_field_is_detected_at_its_seq(field: str, value: object) -> None:
    chain = build_chain()
    broken = tamper(chain, 2, **{field: value})  # seq 3
    report = verify_chain(broken)
    assert not report.ok
    assert report.first_broken_seq == 3
    assert report.checked == 2
    assert report.last_seq == 2


def test_tampering_microseconds_is_detected() -> None:
    chain = build_chain()
    broken = tamper(chain, 0, at=chain[0].at + dt.timedelta(microseconds=1))
    assert verify_chain(broken).first_broken_seq == 1


def test_recomputed_hash_after_tampering_breaks_the_next_link() -> None:
    chain = build_chain()
    forged = dataclasses.replace(chain[2], actor="mallory")
    forged = dataclasses.replace(forged, hash=chain_hash(forged.prev_hash, forged))
    report = verify_chain([*chain[:2], forged, *chain[3:]])
    assert report.first_broken_seq == 4
    assert "does not link" in report.reason


def test_deleted_row_detected_at_the_missing_seq() -> None:
    chain = build_chain()
    report = verify_chain(chain[:3] + chain[4:])
    assert report.first_broken_seq == 4
    assert "expected seq 4, found seq 5" in report.reason


def test_reordered_rows_detected() -> None:
    chain = build_chain()
    swapped = [chain[0], chain[2], chain[1], *chain[3:]]
    assert verify_chain(swapped).first_broken_seq == 2


def test_swapped_contents_with_kept_seqs_detected() -> None:
    chain = build_chain()
    a = dataclasses.replace(chain[2], seq=2)
    b = dataclasses.replace(chain[1], seq=3)
    assert verify_chain([chain[0], a, b, *chain[3:]]).first_broken_seq == 2


def test_truncated_tail_detected_only_with_the_head() -> None:
    chain = build_chain()
    assert verify_chain(chain[:4]).ok  # the chain alone cannot tell
    report = verify_chain(chain[:4], expected_last=(6, chain[-1].hash))
    assert report.first_broken_seq == 5
    assert "removed from the end" in report.reason


def test_head_hash_mismatch_detected() -> None:
    chain = build_chain()
    report = verify_chain(chain, expected_last=(6, "a" * 64))
    assert report.first_broken_seq == 6


def test_verify_from_a_checkpoint() -> None:
    chain = build_chain()
    report = verify_chain(chain[3:], start_seq=4, start_prev_hash=chain[2].hash)
    assert report.ok and report.checked == 3


def test_canonical_json_is_sorted_utc_and_stable() -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    entry = AuditEntry(
        at=dt.datetime(2025, 3, 1, 10, 0, tzinfo=paris),
        kind=AuditKind.CONFIG_LOADED,
        actor="system",
        details={"z": "1", "a": "ü"},
    )
    body = canonical_json(entry, seq=1, prev_hash=GENESIS_HASH)
    assert b'"at":"2025-03-01T09:00:00.000000+00:00"' in body
    assert body.index(b'"actor"') < body.index(b'"at"') < body.index(b'"details"')
    assert b'{"a":"\xc3\xbc","z":"1"}' in body
    assert b" " not in body
    # Same instant in another zone → same hash.
    utc_entry = dataclasses.replace(entry, at=entry.at.astimezone(dt.UTC))
    assert chain_hash(GENESIS_HASH, entry, seq=1) == chain_hash(GENESIS_HASH, utc_entry, seq=1)


def test_entries_refuse_naive_times_and_non_string_details() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        AuditEntry(at=dt.datetime(2025, 1, 1), kind=AuditKind.LOGOUT, actor="x")
    with pytest.raises(TypeError, match="str → str"):
        AuditEntry(at=T0, kind=AuditKind.LOGOUT, actor="x", details={"n": 1})  # type: ignore[dict-item]
    with pytest.raises(ValueError):
        AuditEntry(at=T0, kind="no_such_kind", actor="x")  # type: ignore[arg-type]


def test_details_are_read_only_copies() -> None:
    source = {"k": "v"}
    entry = AuditEntry(at=T0, kind=AuditKind.LOGOUT, actor="x", details=source)
    source["k"] = "changed"
    assert entry.details["k"] == "v"
    with pytest.raises(TypeError):
        entry.details["k"] = "x"  # type: ignore[index]


def test_chain_hash_needs_seq_for_entries() -> None:
    entry = AuditEntry(at=T0, kind=AuditKind.LOGOUT, actor="x")
    with pytest.raises(TypeError, match="seq"):
        chain_hash(GENESIS_HASH, entry)
