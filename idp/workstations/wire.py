"""The link's wire format, shared by the server and the gateway (client-side models).

Every frame a gateway sends is one JSON object signed with the workstation's P-256 key::

    {"v": 1, "type": "hello", "workstation_id": "ws-…", "ts": 1764640000,
     "nonce": "<22+ base64url characters>", "body": {…}, "sig": "<base64url DER ECDSA>"}

``sig`` is ECDSA P-256 / SHA-256 over the canonical JSON of every other member (sorted keys,
no spaces, UTF-8). The server checks the signature against the registered key, that ``ts`` is
within the window of its own clock, and that the nonce was not seen before (a replay cache in
the short-lived store). Server → gateway frames are plain JSON objects with a ``type``; they
travel over TLS (``wss://``) and secrets inside them are sealed to the workstation key.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from idp.workstations.errors import BadSignature, InvalidLinkMessage, LinkMessageTooLarge
from idp.workstations.model import WORKSTATION_ID

VERSION = 1
#: the largest frame either side accepts (websockets' max_size is set to it)
MAX_FRAME_BYTES = 256 * 1024
GATEWAY_TYPES = frozenset(
    {"register", "hello", "events", "qr_request"}
    # a key's conversation, relayed (idp/vault/relay.py)
    | {"key_seen", "key_message", "key_code", "key_password", "key_gone", "key_unlock", "key_pin"}
)
_NONCE = re.compile(r"[A-Za-z0-9_-]{22,64}")
_SIGNED_MEMBERS = frozenset({"v", "type", "workstation_id", "ts", "nonce", "body", "sig"})


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def canonical(value: dict[str, Any]) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class SignedFrame:
    """A gateway frame as parsed, before its signature and freshness are checked."""

    type: str
    workstation_id: str
    ts: int
    nonce: str
    body: dict[str, Any]
    signed_bytes: bytes
    signature: bytes


def sign_frame(
    *,
    key: ec.EllipticCurvePrivateKey,
    type: str,
    workstation_id: str,
    body: dict[str, Any],
    ts: int,
    nonce: str | None = None,
) -> str:
    """The JSON text of a signed gateway frame (a fresh nonce unless one is given)."""
    unsigned = {
        "v": VERSION,
        "type": type,
        "workstation_id": workstation_id,
        "ts": ts,
        "nonce": nonce or secrets.token_urlsafe(16),
        "body": body,
    }
    signature = key.sign(canonical(unsigned), ec.ECDSA(hashes.SHA256()))
    return json.dumps({**unsigned, "sig": b64url(signature)}, separators=(",", ":"))


def parse_frame(raw: str | bytes) -> SignedFrame:
    """Check a gateway frame's shape (size, members, types); raises :class:`InvalidLinkMessage`."""
    if len(raw) > MAX_FRAME_BYTES:
        raise LinkMessageTooLarge(f"a frame is at most {MAX_FRAME_BYTES} bytes, got {len(raw)}")
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidLinkMessage("a frame must be one JSON object") from exc
    if not isinstance(value, dict) or set(value) != _SIGNED_MEMBERS:
        members = sorted(value) if isinstance(value, dict) else type(value).__name__
        raise InvalidLinkMessage(
            f"a frame has exactly the members {sorted(_SIGNED_MEMBERS)}, got {members}"
        )
    if value["v"] != VERSION:
        raise InvalidLinkMessage(f"v: this server speaks version {VERSION}, got {value['v']!r}")
    kind, ws_id, ts, nonce, body, sig = (
        value[k] for k in ("type", "workstation_id", "ts", "nonce", "body", "sig")
    )
    if kind not in GATEWAY_TYPES:
        raise InvalidLinkMessage(f"type: expected one of {sorted(GATEWAY_TYPES)}, got {kind!r}")
    if not isinstance(ws_id, str) or not WORKSTATION_ID.fullmatch(ws_id):
        raise InvalidLinkMessage("workstation_id: expected ws- and 32 base32 characters")
    if isinstance(ts, bool) or not isinstance(ts, int):
        raise InvalidLinkMessage("ts: expected whole seconds since the epoch")
    if not isinstance(nonce, str) or not _NONCE.fullmatch(nonce):
        raise InvalidLinkMessage("nonce: expected 22-64 base64url characters")
    if not isinstance(body, dict):
        raise InvalidLinkMessage("body: expected a JSON object")
    if not isinstance(sig, str) or not re.fullmatch(r"[A-Za-z0-9_-]{60,200}", sig):
        raise InvalidLinkMessage("sig: expected a base64url ECDSA signature")
    unsigned = {k: v for k, v in value.items() if k != "sig"}
    return SignedFrame(kind, ws_id, ts, nonce, body, canonical(unsigned), unb64url(sig))


def verify_frame(frame: SignedFrame, public_key: ec.EllipticCurvePublicKey) -> None:
    try:
        public_key.verify(frame.signature, frame.signed_bytes, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise BadSignature(
            f"the frame's signature does not verify with the key registered for "
            f"{frame.workstation_id}"
        ) from None


def server_frame(type: str, **members: Any) -> str:
    """A server → gateway frame."""
    return json.dumps({"type": type, **members}, separators=(",", ":"))


def parse_server_frame(raw: str | bytes) -> dict[str, Any]:
    """What the gateway reads; raises :class:`InvalidLinkMessage` on anything else."""
    if len(raw) > MAX_FRAME_BYTES:
        raise LinkMessageTooLarge(f"a frame is at most {MAX_FRAME_BYTES} bytes, got {len(raw)}")
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidLinkMessage("a server frame must be one JSON object") from exc
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise InvalidLinkMessage("a server frame is a JSON object with a type")
    return value
