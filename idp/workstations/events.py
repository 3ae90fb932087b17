"""The workstation event catalogue (after the Hideez workstation audit) and its wire form.

A gateway gives each event a UUID when it happens and spools it until the server acknowledges
it; the server stores each id once, so a resent event is acknowledged and not stored again.
An event whose time is far from the server's clock is accepted and flagged ``clock_skew``.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeVar

from idp.workstations.errors import InvalidLinkMessage, LinkMessageTooLarge

MAX_BATCH = 500
MAX_DETAILS = 16
MAX_DETAIL_TEXT = 256
MAX_ACCOUNT = 255
#: events further in the future than this, or older than MAX_AGE, are flagged clock_skew
FUTURE_TOLERANCE = dt.timedelta(minutes=5)
MAX_AGE = dt.timedelta(days=30)
_DETAIL_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
E = TypeVar("E", bound=StrEnum)


class EventType(StrEnum):
    SERVICE_STARTED = "service_started"
    SERVICE_STOPPED = "service_stopped"
    SERVER_CONNECTED = "server_connected"
    SERVER_DISCONNECTED = "server_disconnected"
    LOCK = "lock"
    UNLOCK = "unlock"
    LOGON = "logon"
    LOGOFF = "logoff"
    KEY_CONNECTED = "key_connected"
    KEY_DISCONNECTED = "key_disconnected"
    CREDENTIALS_USED = "credentials_used"
    DONGLE_PLUGGED = "dongle_plugged"
    DONGLE_UNPLUGGED = "dongle_unplugged"
    RFID_PLUGGED = "rfid_plugged"
    RFID_UNPLUGGED = "rfid_unplugged"
    #: the gateway refused an unlock because the emergency alarm is on
    UNLOCK_REFUSED = "unlock_refused"


#: the events that open a session and those that close one
OPENS_SESSION = frozenset({EventType.UNLOCK, EventType.LOGON})
CLOSES_SESSION = frozenset({EventType.LOCK, EventType.LOGOFF, EventType.SERVICE_STOPPED})


class UnlockedBy(StrEnum):
    PROXIMITY = "proximity"
    RFID = "rfid"
    DONGLE = "dongle"
    MANUAL = "manual"
    PHONE = "phone"
    OTHER = "other"


@dataclass(frozen=True)
class WorkstationEvent:
    """One event as the gateway reported it. ``account`` is the OS account (``CORP\\alice``);
    ``employee`` the username of the employee it belongs to, when the gateway knows it."""

    id: str
    type: EventType
    at: dt.datetime
    account: str = ""
    employee: str | None = None
    unlocked_by: UnlockedBy | None = None
    details: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "id": self.id,
            "type": self.type.value,
            "at": self.at.astimezone(dt.UTC).isoformat(timespec="milliseconds"),
            "account": self.account,
            "details": dict(self.details),
        }
        if self.employee is not None:
            wire["employee"] = self.employee
        if self.unlocked_by is not None:
            wire["unlocked_by"] = self.unlocked_by.value
        return wire


def new_event(
    type: EventType,
    *,
    at: dt.datetime,
    account: str = "",
    employee: str | None = None,
    unlocked_by: UnlockedBy | None = None,
    details: dict[str, str] | None = None,
) -> WorkstationEvent:
    return WorkstationEvent(
        id=str(uuid.uuid4()),
        type=type,
        at=at,
        account=account,
        employee=employee,
        unlocked_by=unlocked_by,
        details=MappingProxyType(dict(details or {})),
    )


def is_skewed(at: dt.datetime, *, now: dt.datetime) -> bool:
    return at > now + FUTURE_TOLERANCE or at < now - MAX_AGE


def parse_batch(body: dict[str, Any]) -> tuple[WorkstationEvent, ...]:
    """The ``events`` of an ``events`` frame, every one checked before any is stored."""
    events = body.get("events")
    if not isinstance(events, list) or not events:
        raise InvalidLinkMessage("events: expected a non-empty list")
    if len(events) > MAX_BATCH:
        raise LinkMessageTooLarge(f"events: at most {MAX_BATCH} per frame, got {len(events)}")
    parsed = tuple(_event(i, raw) for i, raw in enumerate(events))
    if len({e.id for e in parsed}) != len(parsed):
        raise InvalidLinkMessage("events: the same event id appears twice in one batch")
    return parsed


def _event(index: int, raw: object) -> WorkstationEvent:
    where = f"events[{index}]"
    if not isinstance(raw, dict):
        raise InvalidLinkMessage(f"{where}: expected an object")
    unknown = set(raw) - {"id", "type", "at", "account", "employee", "unlocked_by", "details"}
    if unknown:
        raise InvalidLinkMessage(f"{where}: unknown members {sorted(unknown)}")
    try:
        event_id = str(uuid.UUID(str(raw.get("id"))))
    except ValueError:
        raise InvalidLinkMessage(f"{where}.id: expected a UUID") from None
    return WorkstationEvent(
        id=event_id,
        type=_enum(EventType, raw.get("type"), f"{where}.type"),
        at=_time(raw.get("at"), f"{where}.at"),
        account=_text(raw.get("account", ""), f"{where}.account", MAX_ACCOUNT),
        employee=_optional_text(raw.get("employee"), f"{where}.employee"),
        unlocked_by=(
            None
            if raw.get("unlocked_by") is None
            else _enum(UnlockedBy, raw.get("unlocked_by"), f"{where}.unlocked_by")
        ),
        details=_details(raw.get("details", {}), f"{where}.details"),
    )


def _enum(kind: type[E], value: object, where: str) -> E:
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return kind(value)
    except ValueError:
        choices = ", ".join(m.value for m in kind)
        raise InvalidLinkMessage(f"{where}: expected one of {choices}, got {value!r}") from None


def _time(value: object, where: str) -> dt.datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise InvalidLinkMessage(f"{where}: expected an ISO 8601 time with a zone")
    try:
        at = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidLinkMessage(f"{where}: expected an ISO 8601 time, got {value!r}") from None
    if at.tzinfo is None:
        raise InvalidLinkMessage(f"{where}: the time needs a zone (Z or +hh:mm)")
    return at.astimezone(dt.UTC)


def _text(value: object, where: str, limit: int) -> str:
    if not isinstance(value, str) or len(value) > limit or "\x00" in value:
        raise InvalidLinkMessage(f"{where}: expected text of at most {limit} characters")
    return value


def _optional_text(value: object, where: str) -> str | None:
    return None if value is None else _text(value, where, 128)


def _details(value: object, where: str) -> MappingProxyType[str, str]:
    if not isinstance(value, dict) or len(value) > MAX_DETAILS:
        raise InvalidLinkMessage(f"{where}: expected an object of at most {MAX_DETAILS} members")
    for name, text in value.items():
        if not _DETAIL_NAME.fullmatch(name):
            raise InvalidLinkMessage(f"{where}: names are a-z, 0-9 and _, got {name!r}")
        _text(text, f"{where}.{name}", MAX_DETAIL_TEXT)
    return MappingProxyType(dict(value))
