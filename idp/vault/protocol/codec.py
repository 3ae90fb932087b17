"""The TLV body encoding every protocol message uses, driven by a per-class field table.

A body is a run of fields ``tag (1 byte) | length (2 bytes, big-endian) | value``. Integers are
big-endian of their exact width, booleans one byte 0 or 1, text UTF-8, lists of text a run of
``length (2 bytes) | UTF-8``, lists of records a run of ``length (2 bytes) | record body``. A
decoder refuses unknown tags, a tag twice, a missing required field, a value of the wrong width
or over its cap, and text that is not UTF-8 — each as :class:`MalformedMessage`.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar, TypeVar

from idp.vault.protocol.errors import MalformedMessage


class Kind(Enum):
    U8 = "u8"
    U16 = "u16"
    U32 = "u32"
    U64 = "u64"
    BOOL = "bool"
    STR = "str"
    BYTES = "bytes"
    STRS = "strs"
    RECORDS = "records"


_INTS = {Kind.U8: ">B", Kind.U16: ">H", Kind.U32: ">I", Kind.U64: ">Q"}


@dataclass(frozen=True)
class F:
    """One field of a body: its tag, attribute name, kind and cap (bytes, or items)."""

    tag: int
    name: str
    kind: Kind
    cap: int = 255
    required: bool = True
    #: the exact length of a BYTES value, when it has one
    exact: int | None = None
    #: the record class of a RECORDS field
    record: type[Body] | None = None


class Body:
    """Base of every message body; subclasses are frozen dataclasses with a ``FIELDS`` table."""

    FIELDS: ClassVar[tuple[F, ...]] = ()

    def encode(self) -> bytes:
        out = bytearray()
        for f in self.FIELDS:
            value = getattr(self, f.name)
            if value is None:
                if f.required:
                    raise ValueError(f"{type(self).__name__}.{f.name} is required")
                continue
            raw = _encode_value(f, value)
            if len(raw) > 0xFFFF:
                raise ValueError(f"{type(self).__name__}.{f.name} is too long to encode")
            out += struct.pack(">BH", f.tag, len(raw)) + raw
        return bytes(out)


B = TypeVar("B", bound=Body)


def _encode_value(f: F, value: Any) -> bytes:
    if f.kind in _INTS:
        return struct.pack(_INTS[f.kind], value)
    if f.kind is Kind.BOOL:
        return b"\x01" if value else b"\x00"
    if f.kind is Kind.STR:
        return str(value).encode()
    if f.kind is Kind.BYTES:
        return bytes(value)
    if f.kind is Kind.STRS:
        return b"".join(struct.pack(">H", len(s.encode())) + s.encode() for s in value)
    return b"".join(struct.pack(">H", len(r)) + r for r in (item.encode() for item in value))


def _items(raw: bytes, what: str) -> Iterator[bytes]:
    at = 0
    while at < len(raw):
        if at + 2 > len(raw):
            raise MalformedMessage(f"{what}: an item's 2-byte length is cut short")
        (size,) = struct.unpack_from(">H", raw, at)
        at += 2
        if at + size > len(raw):
            raise MalformedMessage(f"{what}: an item announces {size} bytes past the field's end")
        yield raw[at : at + size]
        at += size


def _text(raw: bytes, what: str, cap: int) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedMessage(f"{what}: expected UTF-8 text") from None
    if len(text) > cap:
        raise MalformedMessage(f"{what}: at most {cap} characters, got {len(text)}")
    return text


def _decode_value(f: F, raw: bytes, where: str) -> Any:
    what = f"{where}.{f.name}"
    if f.kind in _INTS:
        width = struct.calcsize(_INTS[f.kind])
        if len(raw) != width:
            raise MalformedMessage(f"{what}: expected {width} bytes, got {len(raw)}")
        value = struct.unpack(_INTS[f.kind], raw)[0]
        if f.kind is Kind.U8 and value > f.cap:
            raise MalformedMessage(f"{what}: at most {f.cap}, got {value}")
        return value
    if f.kind is Kind.BOOL:
        if raw not in (b"\x00", b"\x01"):
            raise MalformedMessage(f"{what}: expected one byte 0 or 1")
        return raw == b"\x01"
    if f.kind is Kind.STR:
        return _text(raw, what, f.cap)
    if f.kind is Kind.BYTES:
        if f.exact is not None and len(raw) != f.exact:
            raise MalformedMessage(f"{what}: expected {f.exact} bytes, got {len(raw)}")
        if len(raw) > f.cap:
            raise MalformedMessage(f"{what}: at most {f.cap} bytes, got {len(raw)}")
        return raw
    items = list(_items(raw, what))
    if len(items) > f.cap:
        raise MalformedMessage(f"{what}: at most {f.cap} items, got {len(items)}")
    if f.kind is Kind.STRS:
        return tuple(_text(item, what, 255) for item in items)
    assert f.record is not None
    return tuple(decode(f.record, item) for item in items)


def decode(cls: type[B], body: bytes) -> B:
    """The ``cls`` instance ``body`` encodes; :class:`MalformedMessage` for anything else."""
    where = cls.__name__
    by_tag = {f.tag: f for f in cls.FIELDS}
    values: dict[str, Any] = {}
    at = 0
    while at < len(body):
        if at + 3 > len(body):
            raise MalformedMessage(f"{where}: a field header is cut short at byte {at}")
        tag, size = struct.unpack_from(">BH", body, at)
        at += 3
        if at + size > len(body):
            raise MalformedMessage(f"{where}: field {tag} announces {size} bytes past the end")
        f = by_tag.get(tag)
        if f is None:
            raise MalformedMessage(f"{where}: unknown field tag {tag}")
        if f.name in values:
            raise MalformedMessage(f"{where}: field {f.name} appears twice")
        values[f.name] = _decode_value(f, body[at : at + size], where)
        at += size
    for f in cls.FIELDS:
        if f.name not in values:
            if f.required:
                raise MalformedMessage(f"{where}: the required field {f.name} is missing")
            values[f.name] = None
    names = {field.name for field in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in values.items() if k in names})
