"""How a session is written into the short-lived store: record versions 1 and 2.

A session is a *record* of the store (a small hash merged whole, see
:mod:`idp.store.ephemeral.base`). Version 1 spells its fields out; version 2 holds the same
facts in fewer bytes (a session at three relying parties takes 568 instead of 760 bytes in
Redis; docs/storage.md shows both layouts):

======================  ==========================  =======================================
fact                    version 1                   version 2
======================  ==========================  =======================================
version                 ``v`` = ``1``               ``v`` = ``2``
employee                ``employee_id``             ``e``
created                 ``created_at`` (ISO 8601)   ``c`` (``<unix seconds>.<6 digits>``)
authenticated           ``auth_time`` (ISO 8601)    ``a`` (same form), absent while = ``c``
factors                 ``factors``: JSON objects   ``f``: JSON arrays
                                                    ``[kind, credential, at, uv 0|1, amr]``
relying parties         ``p:<participant>``         ``p:<participant>`` (unchanged)
======================  ==========================  =======================================

Every reader understands both, so instances of the previous release (writing version 1) and
of this one share sessions during a rolling upgrade; ``session.record_version`` chooses what
new sessions are written as, and an update keeps the version of the record it updates.
Participants are fields of their own in both versions, so that adding one is an atomic merge
without reading the session first.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from idp.factors.kinds import FactorKind, FactorUse

RecordVersion = Literal[1, 2]
RECORD_VERSIONS: tuple[RecordVersion, ...] = (1, 2)
PARTICIPANT = "p:"
#: a stored session larger than this is refused as damaged (a session with a passkey use and
#: three relying parties is ~0.5 KB; this leaves room for some hundred relying parties)
MAX_RECORD_BYTES = 64 * 1024

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_STAMP_RE = re.compile(r"(-?[0-9]{1,12})\.([0-9]{6})")
_FACTOR_V2_LENGTH = 5


@dataclass(frozen=True)
class SessionRecord:
    """What a stored session says, whichever version wrote it."""

    version: RecordVersion
    employee_id: str
    created_at: dt.datetime
    auth_time: dt.datetime
    factors: tuple[FactorUse, ...]
    participants: tuple[str, ...]


def new_fields(
    *,
    version: RecordVersion,
    employee_id: str,
    now: dt.datetime,
    factors: tuple[FactorUse, ...],
) -> dict[str, bytes]:
    """The fields of a session created at ``now`` after a sign-in with ``factors``."""
    if version == 1:
        return {
            "v": b"1",
            "employee_id": employee_id.encode(),
            "created_at": iso_utc(now).encode(),
            "auth_time": iso_utc(now).encode(),
            "factors": _factors_v1(factors),
        }
    return {"v": b"2", "e": employee_id.encode(), "c": _stamp(now), "f": _factors_v2(factors)}


def update_fields(
    *,
    version: RecordVersion,
    factors: tuple[FactorUse, ...],
    auth_time: dt.datetime | None = None,
) -> dict[str, bytes]:
    """The fields that replace a ``version`` record's factors (and its ``auth_time``)."""
    if version == 1:
        fields = {"factors": _factors_v1(factors)}
        if auth_time is not None:
            fields["auth_time"] = iso_utc(auth_time).encode()
        return fields
    fields = {"f": _factors_v2(factors)}
    if auth_time is not None:
        fields["a"] = _stamp(auth_time)
    return fields


def read_record(fields: Mapping[str, bytes]) -> SessionRecord:
    """The session ``fields`` hold; ``ValueError`` saying what is wrong if they are damaged,
    too large or of a version this release does not know."""
    size = sum(len(name) + len(value) for name, value in fields.items())
    if size > MAX_RECORD_BYTES:
        raise ValueError(f"expected at most {MAX_RECORD_BYTES} bytes, the record has {size}")
    version = fields.get("v")
    try:
        if version == b"1":
            record = _read_v1(fields)
        elif version == b"2":
            record = _read_v2(fields)
        else:
            raise ValueError(f"expected record version 1 or 2, got {version!r}")
    except KeyError as exc:
        raise ValueError(f"version {version!r} record without its field {exc}") from None
    except (TypeError, AttributeError, OverflowError) as exc:
        raise ValueError(f"version {version!r} record with a malformed field: {exc}") from None
    return record


def participants_of(fields: Mapping[str, bytes]) -> tuple[str, ...]:
    """The relying parties a record names, sorted (the same field form in both versions)."""
    return tuple(
        sorted(name[len(PARTICIPANT) :] for name in fields if name.startswith(PARTICIPANT))
    )


# -- version 1: ISO 8601 times, factors as JSON objects -------------------------------------


def factor_to_json(use: FactorUse) -> dict[str, object]:
    return {
        "kind": str(use.kind),
        "credential_id": use.credential_id,
        "at": iso_utc(use.at),
        "user_verified": use.user_verified,
        "amr": list(use.amr),
    }


def factor_from_json(data: dict[str, Any]) -> FactorUse:
    return FactorUse(
        kind=FactorKind(data["kind"]),
        credential_id=str(data["credential_id"]),
        at=_fromiso_utc(data["at"]),
        user_verified=bool(data["user_verified"]),
        amr=tuple(str(a) for a in data["amr"]),
    )


def _factors_v1(factors: tuple[FactorUse, ...]) -> bytes:
    return json.dumps([factor_to_json(f) for f in factors], separators=(",", ":")).encode()


def _read_v1(fields: Mapping[str, bytes]) -> SessionRecord:
    return SessionRecord(
        version=1,
        employee_id=fields["employee_id"].decode(),
        created_at=_fromiso_utc(fields["created_at"].decode()),
        auth_time=_fromiso_utc(fields["auth_time"].decode()),
        factors=_nonempty(tuple(factor_from_json(f) for f in json.loads(fields["factors"]))),
        participants=participants_of(fields),
    )


def iso_utc(value: dt.datetime) -> str:
    """``value`` in UTC, ISO 8601 with microseconds (version 1's time form)."""
    _require_aware(value)
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _fromiso_utc(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    if value.utcoffset() is None:
        raise ValueError(f"expected a time with its UTC offset, got {text!r}")
    return value


# -- version 2: unix-second stamps, factors as JSON arrays ----------------------------------


def _factors_v2(factors: tuple[FactorUse, ...]) -> bytes:
    rows = [
        [str(f.kind), f.credential_id, _stamp(f.at).decode(), int(f.user_verified), list(f.amr)]
        for f in factors
    ]
    return json.dumps(rows, separators=(",", ":")).encode()


def _read_v2(fields: Mapping[str, bytes]) -> SessionRecord:
    created_at = _instant(fields["c"].decode())
    auth = fields.get("a")
    rows = json.loads(fields["f"])
    if not isinstance(rows, list):
        raise ValueError(f"expected the factors as a JSON array, got {type(rows).__name__}")
    return SessionRecord(
        version=2,
        employee_id=fields["e"].decode(),
        created_at=created_at,
        auth_time=created_at if auth is None else _instant(auth.decode()),
        factors=_nonempty(tuple(_factor_v2(row) for row in rows)),
        participants=participants_of(fields),
    )


def _factor_v2(row: object) -> FactorUse:
    if not isinstance(row, list) or len(row) != _FACTOR_V2_LENGTH:
        raise ValueError(f"expected a factor as [kind, credential, at, uv, amr], got {row!r}")
    kind, credential_id, at, verified, amr = row
    if not isinstance(credential_id, str) or not isinstance(at, str):
        raise ValueError(f"expected the credential and time as strings, got {row!r}")
    if verified not in (0, 1) or isinstance(verified, bool):
        raise ValueError(f"expected user verification as 0 or 1, got {verified!r}")
    if not isinstance(amr, list) or not all(isinstance(a, str) for a in amr):
        raise ValueError(f"expected amr as an array of strings, got {amr!r}")
    return FactorUse(FactorKind(kind), credential_id, _instant(at), bool(verified), tuple(amr))


def _stamp(value: dt.datetime) -> bytes:
    """``<unix seconds>.<microseconds, 6 digits>``: exact, and ``date -d @…`` reads it."""
    _require_aware(value)
    micros = (value - _EPOCH) // dt.timedelta(microseconds=1)
    seconds, fraction = divmod(micros, 1_000_000)
    return f"{seconds}.{fraction:06d}".encode()


def _instant(text: str) -> dt.datetime:
    match = _STAMP_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"expected a time as <unix seconds>.<6 digits>, got {text!r}")
    return _EPOCH + dt.timedelta(seconds=int(match[1]), microseconds=int(match[2]))


def _require_aware(value: dt.datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"session times must be timezone-aware, got {value.isoformat()}")


def _nonempty(factors: tuple[FactorUse, ...]) -> tuple[FactorUse, ...]:
    if not factors:
        raise ValueError("expected at least one factor use, the record has none")
    return factors
