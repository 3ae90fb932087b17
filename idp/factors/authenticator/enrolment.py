"""App enrolment: the one-time token behind the QR code, the QR images, and the checked
registration an app sends back.

The token lives in the short-lived store for ``enrolment_minutes`` (10 by default) under its
SHA-256 only, and is taken atomically: one device registers with it, on whichever instance.
"""

from __future__ import annotations

import hashlib
import io
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import segno

from idp.factors.authenticator import wire
from idp.factors.authenticator.errors import EnrolmentTokenInvalid, InvalidDeviceInput
from idp.factors.authenticator.signing import load_device_key
from idp.store.ephemeral.base import EphemeralStore

_TOKEN, _DONE = "app-enrol:", "app-enrol-done:"


def _digest(token: str) -> str:
    if not isinstance(token, str) or not 16 <= len(token) <= 128:
        raise EnrolmentTokenInvalid("the enrolment code is malformed; scan a new QR code")
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(store: EphemeralStore, *, employee_id: str, ttl: int) -> str:
    token = secrets.token_urlsafe(24)
    store.put(_TOKEN + _digest(token), employee_id.encode(), ttl=ttl)
    return token


def peek_token(store: EphemeralStore, token: str) -> str | None:
    raw = store.get(_TOKEN + _digest(token))
    return None if raw is None else raw.decode()


def redeem_token(store: EphemeralStore, token: str, *, device_name: str, ttl: int) -> str:
    """The employee the token was issued for; the token is gone afterwards."""
    digest = _digest(token)
    raw = store.take(_TOKEN + digest)
    if raw is None:
        raise EnrolmentTokenInvalid(
            "this enrolment code was already used or has expired; show a new QR code"
        )
    store.put(_DONE + digest, device_name.encode(), ttl=ttl)
    return raw.decode()


def enrolled_with(store: EphemeralStore, token: str) -> str | None:
    """The device name registered with ``token`` (for the page that shows the QR code)."""
    raw = store.get(_DONE + _digest(token))
    return None if raw is None else raw.decode()


def qr_png(content: str) -> bytes:
    out = io.BytesIO()
    segno.make(content, error="m").save(out, kind="png", scale=6, border=2)
    return out.getvalue()


def qr_svg(content: str) -> bytes:
    out = io.BytesIO()
    segno.make(content, error="m").save(out, kind="svg", scale=6, border=2, xmldecl=False)
    return out.getvalue()


@dataclass(frozen=True)
class Registration:
    """A checked device registration (the signature over it is checked by the caller)."""

    token: str
    device_id: str
    public_key: bytes
    display_name: str
    platform: str
    push_provider: str | None
    push_token: str | None


def _text(data: Mapping[str, Any], name: str, *, max_len: int, required: bool = True) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidDeviceInput(f"field {name!r} must be a non-empty string")
    if len(value) > max_len:
        raise InvalidDeviceInput(f"field {name!r} is longer than {max_len} characters")
    return value.strip()


def parse_registration(data: Mapping[str, Any]) -> Registration:
    """Check every field of a registration body; raise :class:`InvalidDeviceInput`."""
    unknown = sorted(set(data) - {
        "token", "device_id", "public_key", "display_name", "platform", "push_provider",
        "push_token",
    })  # fmt: skip
    if unknown:
        raise InvalidDeviceInput(f"unknown fields: {', '.join(unknown)[:200]}")
    device_id = _text(data, "device_id", max_len=64) or ""
    if not wire.DEVICE_ID.fullmatch(device_id):
        raise InvalidDeviceInput("field 'device_id' must be 16-64 base64url characters")
    try:
        public_key = wire.unb64u(_text(data, "public_key", max_len=512) or "")
    except ValueError:
        raise InvalidDeviceInput("field 'public_key' must be base64url") from None
    load_device_key(public_key)
    name = _text(data, "display_name", max_len=wire.MAX_DISPLAY_NAME) or ""
    if any(ord(c) < 32 for c in name):
        raise InvalidDeviceInput("field 'display_name' must not contain control characters")
    platform = _text(data, "platform", max_len=16) or ""
    if platform not in wire.PLATFORMS:
        raise InvalidDeviceInput(f"field 'platform' must be one of {', '.join(wire.PLATFORMS)}")
    provider = _text(data, "push_provider", max_len=8, required=False)
    push_token = _text(data, "push_token", max_len=wire.MAX_PUSH_TOKEN, required=False)
    if provider is not None and provider not in wire.PUSH_PROVIDERS:
        raise InvalidDeviceInput(
            f"field 'push_provider' must be one of {', '.join(wire.PUSH_PROVIDERS)}"
        )
    if (provider is None) != (push_token is None):
        raise InvalidDeviceInput("give both push_provider and push_token, or neither")
    return Registration(
        token=_text(data, "token", max_len=128) or "",
        device_id=device_id,
        public_key=public_key,
        display_name=name,
        platform=platform,
        push_provider=provider,
        push_token=push_token,
    )
