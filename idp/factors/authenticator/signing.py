"""Device-signed requests: the one check every app request passes (push answers, polling,
enrolment's proof of possession, and the workstations' PC login by phone).

:func:`verify_device_request` is pure but for the replay cache: it checks the headers'
shape, the timestamp against ``now`` (± ``max_skew``), the ECDSA P-256 signature over
:func:`idp.factors.authenticator.wire.canonical_request`, and only then records the nonce
(``SET NX EX`` in the short-lived store, so a replay is refused on every instance).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from idp.factors.authenticator import wire
from idp.factors.authenticator.errors import (
    BadDeviceSignature,
    DeviceRequestError,
    InvalidDeviceInput,
    ReplayedDeviceRequest,
    StaleDeviceRequest,
)

DEFAULT_MAX_SKEW = 60
_NONCE_PREFIX = "device-nonce:"


class NonceCache(Protocol):
    def add_if_absent(self, key: str, value: bytes, *, ttl: int) -> bool: ...


@dataclass(frozen=True)
class VerifiedDeviceRequest:
    device_id: str
    timestamp: int
    nonce: str


def load_device_key(der: bytes) -> ec.EllipticCurvePublicKey:
    """A P-256 public key from DER SubjectPublicKeyInfo; anything else is refused."""
    try:
        key = load_der_public_key(der)
    except ValueError:
        raise InvalidDeviceInput("public_key is not a DER SubjectPublicKeyInfo") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise InvalidDeviceInput("public_key must be an EC P-256 (secp256r1) key")
    return key


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    if not value:
        raise DeviceRequestError(f"header {name} is missing; the request must be device-signed")
    if len(value) > 256:
        raise DeviceRequestError(f"header {name} is longer than 256 characters")
    return value


def device_id_of(headers: Mapping[str, str]) -> str:
    """The device a signed request claims to come from (checked for shape only)."""
    device_id = _header(headers, wire.HEADER_DEVICE)
    if not wire.DEVICE_ID.fullmatch(device_id):
        raise DeviceRequestError(f"header {wire.HEADER_DEVICE} must be 16-64 base64url characters")
    return device_id


def verify_device_request(
    *,
    public_key: bytes,
    method: str,
    path: str,
    body: bytes,
    headers: Mapping[str, str],
    expected_device_id: str,
    now: dt.datetime,
    nonces: NonceCache,
    max_skew: int = DEFAULT_MAX_SKEW,
) -> VerifiedDeviceRequest:
    """Check one device-signed request; raise a :class:`DeviceRequestError` subclass.

    ``public_key`` is the device's DER SubjectPublicKeyInfo as enrolled (or, at enrolment,
    as the request itself offers it: proof of possession).
    """
    device_id = device_id_of(headers)
    if device_id != expected_device_id:
        raise BadDeviceSignature(
            f"the request is signed as device {device_id!r}, expected {expected_device_id!r}"
        )
    raw_ts = _header(headers, wire.HEADER_TIMESTAMP)
    if not raw_ts.isdigit() or len(raw_ts) > 12:
        raise DeviceRequestError(f"header {wire.HEADER_TIMESTAMP} must be whole epoch seconds")
    timestamp = int(raw_ts)
    drift = timestamp - int(now.timestamp())
    if abs(drift) > max_skew:
        raise StaleDeviceRequest(
            f"the request's timestamp is {drift:+d} s from the server's clock; at most "
            f"±{max_skew} s is accepted (check the phone's clock)"
        )
    nonce = _header(headers, wire.HEADER_NONCE)
    if not wire.NONCE.fullmatch(nonce):
        raise DeviceRequestError(f"header {wire.HEADER_NONCE} must be 16-64 base64url characters")
    try:
        signature = wire.unb64u(_header(headers, wire.HEADER_SIGNATURE))
    except ValueError:
        raise BadDeviceSignature(f"header {wire.HEADER_SIGNATURE} is not base64url") from None
    message = wire.canonical_request(
        device_id=device_id, method=method, path=path, timestamp=timestamp, nonce=nonce, body=body
    )
    try:
        load_device_key(public_key).verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise BadDeviceSignature(
            "the device signature does not verify with the enrolled key for this request"
        ) from None
    # Only a verified request spends its nonce: a forger cannot burn the device's nonces.
    if not nonces.add_if_absent(_NONCE_PREFIX + device_id + ":" + nonce, b"1", ttl=2 * max_skew):
        raise ReplayedDeviceRequest("this signed request was already received once")
    return VerifiedDeviceRequest(device_id=device_id, timestamp=timestamp, nonce=nonce)
