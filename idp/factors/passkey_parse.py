"""Strict decoding of what the browser sends back (PublicKeyCredential JSON, WebAuthn L3 §5.1).

Everything here turns hostile bytes into typed values or raises :class:`MalformedResponse`
(never ``KeyError``/``binascii.Error``). base64url is decoded strictly: the standard library
silently drops characters outside the alphabet, which would let two different strings name
the same credential.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from webauthn.helpers import parse_attestation_object, parse_authenticator_data
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import AttestationObject, AuthenticatorData

from idp.factors.passkey_errors import MalformedResponse, ResponseTooLarge

# A packed attestation with a three-certificate chain is ~4 KB; TPM ~6 KB. 64 KiB leaves room
# for every real authenticator and bounds the CBOR decoder's work.
MAX_RESPONSE_CHARS = 64 * 1024
_B64URL_RE = re.compile(r"^[A-Za-z0-9_-]*$")
_KNOWN_TRANSPORTS = frozenset({"usb", "nfc", "ble", "smart-card", "hybrid", "internal", "cable"})


@dataclass(frozen=True)
class ParsedCredential:
    """The outer PublicKeyCredential JSON, with its binary members decoded."""

    credential_id: str
    raw_id: bytes
    fields: dict[str, bytes]
    user_handle: bytes | None
    transports: tuple[str, ...]


@dataclass(frozen=True)
class ClientData:
    """CollectedClientData (§5.8.1)."""

    type: str
    challenge: bytes
    origin: str
    cross_origin: bool
    top_origin: str | None


def b64url_decode(value: object, what: str) -> bytes:
    """Decode unpadded (or padded) base64url strictly; ``what`` names the field in errors."""
    if not isinstance(value, str):
        raise MalformedResponse(f"{what}: expected a base64url string, got {type(value).__name__}")
    stripped = value.rstrip("=")
    if not _B64URL_RE.match(stripped) or len(stripped) % 4 == 1:
        raise MalformedResponse(f"{what}: expected base64url, got characters outside it")
    try:
        return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
    except (binascii.Error, ValueError):
        raise MalformedResponse(f"{what}: expected base64url, got undecodable text") from None


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _load_object(response_json: object) -> dict[str, Any]:
    if not isinstance(response_json, str):
        raise MalformedResponse(f"expected a JSON string, got {type(response_json).__name__}")
    if len(response_json) > MAX_RESPONSE_CHARS:
        raise ResponseTooLarge(
            f"expected at most {MAX_RESPONSE_CHARS} characters, got {len(response_json)}"
        )
    try:
        data = json.loads(response_json)
    except (ValueError, RecursionError):
        raise MalformedResponse(
            "expected a PublicKeyCredential JSON object, got invalid JSON"
        ) from None
    if not isinstance(data, dict):
        raise MalformedResponse(f"expected a JSON object, got {type(data).__name__}")
    return data


def _credential_id(data: dict[str, Any]) -> tuple[str, bytes]:
    if data.get("type") != "public-key":
        raise MalformedResponse(f"expected type 'public-key', got {str(data.get('type'))[:40]!r}")
    raw_id = b64url_decode(data.get("rawId"), "rawId")
    cred_id = data.get("id")
    if not raw_id or not isinstance(cred_id, str) or cred_id.rstrip("=") != b64url_encode(raw_id):
        raise MalformedResponse("expected id to be the base64url form of a non-empty rawId")
    return b64url_encode(raw_id), raw_id


def parse_credential(response_json: object, *, binary_fields: tuple[str, ...]) -> ParsedCredential:
    """Parse a RegistrationResponseJSON / AuthenticationResponseJSON (§5.1)."""
    data = _load_object(response_json)
    cred_id, raw_id = _credential_id(data)
    response = data.get("response")
    if not isinstance(response, dict):
        raise MalformedResponse("expected a 'response' object in the credential")
    fields = {name: b64url_decode(response.get(name), f"response.{name}") for name in binary_fields}
    handle = response.get("userHandle")
    user_handle = None if handle in (None, "") else b64url_decode(handle, "response.userHandle")
    raw_transports = response.get("transports", [])
    if not isinstance(raw_transports, list):
        raise MalformedResponse("expected response.transports to be a list of strings")
    # Unknown transport names are dropped rather than refused: new ones appear (§5.8.4).
    transports = tuple(
        dict.fromkeys(t for t in raw_transports if isinstance(t, str) and t in _KNOWN_TRANSPORTS)
    )
    return ParsedCredential(cred_id, raw_id, fields, user_handle, transports)


def credential_id_of(response_json: str) -> str:
    """The base64url credential id of a response, to look the stored credential up first."""
    return _credential_id(_load_object(response_json))[0]


def user_handle_of(response_json: str) -> bytes | None:
    """The user handle of an assertion (present for discoverable credentials), or ``None``."""
    data = _load_object(response_json)
    response = data.get("response")
    if not isinstance(response, dict):
        raise MalformedResponse("expected a 'response' object in the credential")
    handle = response.get("userHandle")
    if handle in (None, ""):
        return None
    return b64url_decode(handle, "response.userHandle")


def parse_client_data(raw: bytes) -> ClientData:
    """Decode clientDataJSON (§5.8.1); the challenge is base64url inside it."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise MalformedResponse("expected clientDataJSON to be UTF-8 JSON") from None
    if not isinstance(data, dict):
        raise MalformedResponse("expected clientDataJSON to be a JSON object")
    kind, origin = data.get("type"), data.get("origin")
    if not isinstance(kind, str) or not isinstance(origin, str):
        raise MalformedResponse("expected clientDataJSON.type and .origin to be strings")
    top_origin = data.get("topOrigin")
    if top_origin is not None and not isinstance(top_origin, str):
        raise MalformedResponse("expected clientDataJSON.topOrigin to be a string")
    return ClientData(
        type=kind,
        challenge=b64url_decode(data.get("challenge"), "clientDataJSON.challenge"),
        origin=origin,
        cross_origin=data.get("crossOrigin") is True,
        top_origin=top_origin,
    )


def parse_attestation(raw: bytes) -> AttestationObject:
    """Decode the CBOR attestationObject (§6.5) with its authenticatorData (§6.1)."""
    try:
        parsed = parse_attestation_object(raw)
    except (WebAuthnException, ValueError, TypeError, KeyError, IndexError, RecursionError):
        raise MalformedResponse("expected attestationObject to be well-formed CBOR") from None
    if not isinstance(parsed.fmt, str):
        raise MalformedResponse("expected attestationObject.fmt to be a string")
    return parsed


def parse_auth_data(raw: bytes) -> AuthenticatorData:
    """Decode authenticatorData (§6.1)."""
    try:
        return parse_authenticator_data(raw)
    except (WebAuthnException, ValueError, TypeError, KeyError, IndexError, RecursionError):
        raise MalformedResponse(
            f"expected authenticatorData (>= 37 bytes, valid CBOR tail), got {len(raw)} bytes"
        ) from None
