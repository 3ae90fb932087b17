"""The typed shapes every admin resource shares: pages, cursors, ETags, field errors.

The admin API's request and response bodies are pydantic v2 models defined in the core, next
to the service that takes and returns them; the REST API validates requests with them and
generates its OpenAPI 3.1 document from their JSON Schemas (pydantic emits draft 2020-12, the
dialect OpenAPI 3.1 uses), so the documentation cannot drift from what the handlers accept.
Input models forbid unknown fields: a client that sends ``id`` or ``created_at`` is told
those are not writable instead of having them silently dropped.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from idp.errors import InvalidRequest

T = TypeVar("T")
MAX_CURSOR = 512


class Output(BaseModel):
    """A response body: frozen; the schema lists every field as required."""

    model_config = ConfigDict(frozen=True, json_schema_serialization_defaults_required=True)


class Input(BaseModel):
    """A request body or query: unknown fields are errors, strings keep their spaces."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)


class Page(Output, Generic[T]):
    """One page of a listing. ``next_cursor`` is null on the last page; pass it back as
    ``cursor`` for the next one (it is opaque and tied to the filter and sort it came from)."""

    items: list[T]
    next_cursor: str | None = Field(description="the cursor of the next page, null at the end")


class Items(Output, Generic[T]):
    """A short, unpaged listing (an employee's passkeys or sessions, the admin accounts)."""

    items: list[T]


class Download(Output):
    """A file to answer with as is (the API sends ``content`` as an attachment)."""

    filename: str
    content: bytes = Field(repr=False)


class FieldError(Output):
    field: str = Field(description="the input field, as a dotted path (e.g. email)")
    message: str


class InvalidInput(InvalidRequest):
    """Input that does not fit the resource's model; each problem names its field (HTTP 422)."""

    error = "invalid_input"
    status = 422

    def __init__(self, description: str, *, errors: list[FieldError]) -> None:
        super().__init__(description)
        self.errors = errors


class PreconditionFailed(InvalidRequest):
    """``If-Match`` names another version than the stored one (RFC 9110 §13.1.1)."""

    error = "precondition_failed"
    status = 412


class PreconditionRequired(InvalidRequest):
    """An update came without ``If-Match`` (RFC 6585 §3): it could overwrite another's."""

    error = "precondition_required"
    status = 428


def field_error(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", errors=[FieldError(field=field, message=message)])


def aware(value: dt.datetime | None, name: str) -> dt.datetime | None:
    """``value`` if it names its time zone (a naive time is ambiguous): else a 422 on ``name``."""
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise field_error(name, "give a time zone (e.g. 2026-12-01T10:00:00Z)")
    return value


def etag_of(model: BaseModel) -> str:
    """A strong ETag over the resource's representation (changes whenever any field does)."""
    body = model.model_dump_json().encode()
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def check_if_match(if_match: str | None, current: BaseModel) -> None:
    """Refuse an update that was not made against the stored version."""
    if if_match is None:
        raise PreconditionRequired(
            "send If-Match with the ETag of the version you changed (GET it first)"
        )
    wanted = etag_of(current)
    offered = [tag.strip() for tag in if_match.split(",")]
    if "*" not in offered and wanted not in offered:
        raise PreconditionFailed(
            f"If-Match {if_match[:80]!r} is not the current version {wanted}: "
            "someone changed it since you read it; GET it again"
        )


def encode_cursor(kind: str, state: dict[str, object]) -> str:
    raw = json.dumps({"k": kind, **state}, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(kind: str, cursor: str) -> dict[str, object]:
    """The state a cursor carries, or a clear 422 naming ``cursor`` if it is not one of ours
    for this listing (tampered, truncated, from another listing or another sort)."""
    if len(cursor) > MAX_CURSOR:
        raise field_error("cursor", f"expected at most {MAX_CURSOR} characters")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        state = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error):
        raise field_error("cursor", "not a cursor this API issued") from None
    if not isinstance(state, dict) or state.pop("k", None) != kind:
        raise field_error("cursor", "not a cursor of this listing")
    return state
