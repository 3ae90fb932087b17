"""Session records, versions 1 and 2: what is written, what is read, what is refused."""

from __future__ import annotations

import datetime as dt

import pytest

from idp.factors.kinds import FactorKind, FactorUse
from idp.session_records import (
    MAX_RECORD_BYTES,
    RecordVersion,
    SessionRecord,
    new_fields,
    read_record,
    update_fields,
)

NOW = dt.datetime(2025, 6, 1, 9, 0, 0, 123456, tzinfo=dt.UTC)
PASSWORD = FactorUse(FactorKind.PASSWORD, "emp-1", NOW - dt.timedelta(seconds=20), False, ("pwd",))
PASSKEY = FactorUse(FactorKind.PASSKEY, "cred-1", NOW, True, ("hwk", "user"))
#: exactly what the previous release (record version 1 only) wrote for this sign-in
PREVIOUS_RELEASE = {
    "v": b"1",
    "employee_id": b"emp-1",
    "created_at": b"2025-06-01T09:00:00.123456+00:00",
    "auth_time": b"2025-06-01T09:00:00.123456+00:00",
    "factors": b'[{"kind":"password","credential_id":"emp-1","at":"2025-06-01T08:59:40.123456'
    b'+00:00","user_verified":false,"amr":["pwd"]},{"kind":"passkey","credential_id":"cred-1",'
    b'"at":"2025-06-01T09:00:00.123456+00:00","user_verified":true,"amr":["hwk","user"]}]',
    "p:oidc:webapp|sid": b"",
}
#: the same session as version 2 writes it (the layout docs/storage.md shows)
VERSION_2 = {
    "v": b"2",
    "e": b"emp-1",
    "c": b"1748768400.123456",
    "f": b'[["password","emp-1","1748768380.123456",0,["pwd"]],'
    b'["passkey","cred-1","1748768400.123456",1,["hwk","user"]]]',
    "p:oidc:webapp|sid": b"",
}


def _created(version: RecordVersion) -> dict[str, bytes]:
    fields = new_fields(version=version, employee_id="emp-1", now=NOW, factors=(PASSWORD, PASSKEY))
    return {**fields, "p:oidc:webapp|sid": b""}


def test_version_1_is_written_as_the_previous_release_wrote_it() -> None:
    # so that instances not yet upgraded read what upgraded ones write with record_version: 1
    assert _created(1) == PREVIOUS_RELEASE


def test_version_2_layout() -> None:
    assert _created(2) == VERSION_2
    assert sum(map(len, VERSION_2.values())) < 0.6 * sum(map(len, PREVIOUS_RELEASE.values()))


@pytest.mark.parametrize("fields", [PREVIOUS_RELEASE, VERSION_2], ids=["v1", "v2"])
def test_both_versions_read_alike(fields: dict[str, bytes]) -> None:
    record = read_record(fields)
    assert record == SessionRecord(
        version=1 if fields["v"] == b"1" else 2,
        employee_id="emp-1",
        created_at=NOW,
        auth_time=NOW,
        factors=(PASSWORD, PASSKEY),
        participants=("oidc:webapp|sid",),
    )
    assert all(f.at.utcoffset() == dt.timedelta(0) for f in record.factors)


@pytest.mark.parametrize("version", [1, 2])
def test_every_field_round_trips(version: RecordVersion) -> None:
    kyiv = dt.timezone(dt.timedelta(hours=3))
    uses = tuple(
        FactorUse(kind, f"{kind}-id/+=:é", NOW + dt.timedelta(microseconds=n), n % 2 == 0, amr)
        for n, (kind, amr) in enumerate(
            [
                (FactorKind.PASSKEY, ("fido", "hwk", "user", "pin", "mfa")),
                (FactorKind.TOTP, ("otp",)),
                (FactorKind.AUTHENTICATOR_APP, ("swk", "user")),
                (FactorKind.HARDWARE_VAULT, ()),
                (FactorKind.PASSWORD, ("pwd",)),
            ]
        )
    )
    created = NOW.astimezone(kyiv)
    later = NOW + dt.timedelta(days=3, microseconds=7)
    fields = new_fields(version=version, employee_id="émp 1", now=created, factors=uses[:1])
    fields |= update_fields(version=version, factors=uses, auth_time=later)
    fields |= {'p:saml:["https://sp", "n", "_i"]': b"", "p:wsfed|owa": b""}
    record = read_record(fields)
    assert record == SessionRecord(
        version, "émp 1", NOW, later, uses, ('saml:["https://sp", "n", "_i"]', "wsfed|owa")
    )
    assert update_fields(version=version, factors=uses).keys() == {
        "factors" if version == 1 else "f"
    }


def test_times_before_the_epoch_and_far_ahead_round_trip() -> None:
    for instant in (
        dt.datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=dt.UTC),
        dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
    ):
        use = FactorUse(FactorKind.TOTP, "t", instant, False, ("otp",))
        fields = new_fields(version=2, employee_id="e", now=instant, factors=(use,))
        assert read_record(fields).created_at == instant
        assert read_record(fields).factors == (use,)


@pytest.mark.parametrize("version", [1, 2])
def test_naive_times_are_refused_when_writing(version: RecordVersion) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        new_fields(
            version=version, employee_id="e", now=NOW.replace(tzinfo=None), factors=(PASSKEY,)
        )


def _v2(**changes: bytes | None) -> dict[str, bytes]:
    fields = {**VERSION_2, **changes}
    return {name: value for name, value in fields.items() if value is not None}


def _v1(**changes: bytes | None) -> dict[str, bytes]:
    fields = {**PREVIOUS_RELEASE, **changes}
    return {name: value for name, value in fields.items() if value is not None}


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"e": b"emp-1"}, "expected record version 1 or 2, got None"),
        (_v2(v=b"3"), "expected record version 1 or 2, got b'3'"),
        (_v2(e=None), "without its field 'e'"),
        (_v2(f=None), "without its field 'f'"),
        (_v1(auth_time=None), "without its field 'auth_time'"),
        (_v2(e=b"\xff\xfe"), "can't decode"),
        (_v2(c=b"2025-06-01T09:00:00+00:00"), "expected a time as <unix seconds>.<6 digits>"),
        (_v2(a=b"1748768400.12"), "expected a time as <unix seconds>.<6 digits>"),
        (_v2(c=b"999999999999.000000"), "malformed field"),
        (_v2(f=b"not json"), "Expecting value"),
        (_v2(f=b'{"kind": "passkey"}'), "expected the factors as a JSON array, got dict"),
        (_v2(f=b"[]"), "at least one factor use"),
        (_v2(f=b'[["passkey","c","1748768400.123456",1]]'), "as [kind, credential, at, uv, amr]"),
        (_v2(f=b'[["sms","c","1748768400.123456",1,[]]]'), "'sms' is not a valid FactorKind"),
        (_v2(f=b'[["passkey",7,"1748768400.123456",1,[]]]'), "credential and time as strings"),
        (_v2(f=b'[["passkey","c","1748768400.123456",true,[]]]'), "as 0 or 1, got True"),
        (_v2(f=b'[["passkey","c","1748768400.123456",2,[]]]'), "as 0 or 1, got 2"),
        (_v2(f=b'[["passkey","c","1748768400.123456",1,"hwk"]]'), "amr as an array of strings"),
        (_v2(f=b'[["passkey","c","1748768400.123456",1,[1]]]'), "amr as an array of strings"),
        (_v2(f=b'[["passkey","c","yesterday",1,[]]]'), "got 'yesterday'"),
        (_v1(created_at=b"2025-06-01T09:00:00"), "with its UTC offset"),
        (_v1(factors=b'[{"kind":"passkey"}]'), "without its field 'credential_id'"),
        (_v1(factors=b'["passkey"]'), "malformed field"),
        (_v1(factors=b"[]"), "at least one factor use"),
    ],
)
def test_damaged_records_are_refused_saying_why(fields: dict[str, bytes], reason: str) -> None:
    with pytest.raises(ValueError) as err:
        read_record(fields)
    assert reason in str(err.value)


@pytest.mark.parametrize("version", [1, 2])
def test_an_oversized_record_is_refused(version: RecordVersion) -> None:
    fields = _created(version)
    for n in range(MAX_RECORD_BYTES // 1000 + 1):
        fields[f"p:saml:{n:04d}" + "x" * 990] = b""
    with pytest.raises(ValueError, match=f"expected at most {MAX_RECORD_BYTES} bytes"):
        read_record(fields)
    fields.popitem()
    assert len(read_record(fields).participants) == 1 + MAX_RECORD_BYTES // 1000
