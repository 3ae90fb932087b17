"""verify_device_request: the one check of every device-signed request."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from idp.factors.authenticator import wire
from idp.factors.authenticator.errors import (
    BadDeviceSignature,
    DeviceRequestError,
    InvalidDeviceInput,
    ReplayedDeviceRequest,
    StaleDeviceRequest,
)
from idp.factors.authenticator.signing import verify_device_request
from idp.store.ephemeral import MemoryStore

NOW = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)
DEVICE = "device-0123456789ab"
KEY = ec.generate_private_key(ec.SECP256R1())
PUBLIC = KEY.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
)


def headers(*, body: bytes = b"{}", ts: int | None = None, nonce: str = "n" * 22,
            key: ec.EllipticCurvePrivateKey = KEY, path: str = "/api/x",
            device: str = DEVICE) -> dict[str, str]:  # fmt: skip
    ts = int(NOW.timestamp()) if ts is None else ts
    message = wire.canonical_request(device_id=device, method="POST", path=path, timestamp=ts,
                                     nonce=nonce, body=body)  # fmt: skip
    return {
        wire.HEADER_DEVICE: device,
        wire.HEADER_TIMESTAMP: str(ts),
        wire.HEADER_NONCE: nonce,
        wire.HEADER_SIGNATURE: wire.b64u(
            KEY.sign(message, ec.ECDSA(hashes.SHA256()))
            if key is KEY
            else key.sign(message, ec.ECDSA(hashes.SHA256()))
        ),
    }


def verify(h: dict[str, str], *, store: MemoryStore | None = None, body: bytes = b"{}",
           path: str = "/api/x", public: bytes = PUBLIC) -> object:  # fmt: skip
    return verify_device_request(public_key=public, method="POST", path=path, body=body,
                                 headers=h, expected_device_id=DEVICE, now=NOW,
                                 nonces=store if store is not None else MemoryStore())  # fmt: skip


def test_the_canonical_bytes_are_as_documented() -> None:
    got = wire.canonical_request(device_id="d" * 16, method="post", path="/p", timestamp=5,
                                 nonce="n" * 16, body=b"")  # fmt: skip
    empty_sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert got == ("HIDEEZ-DEVICE-REQUEST-V1\n" + "d" * 16 + "\nPOST\n/p\n5\n" + "n" * 16
                   + "\n" + empty_sha).encode()  # fmt: skip


def test_a_good_request_verifies_once() -> None:
    store = MemoryStore()
    h = headers()
    verify(h, store=store)
    with pytest.raises(ReplayedDeviceRequest):
        verify(h, store=store)


def test_forged_signature_wrong_body_path_or_device() -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(BadDeviceSignature, match="does not verify"):
        verify(headers(key=other))
    with pytest.raises(BadDeviceSignature):
        verify(headers(), body=b'{"decision": "approve"}')
    with pytest.raises(BadDeviceSignature):
        verify(headers(), path="/api/other")
    with pytest.raises(BadDeviceSignature, match="expected"):
        verify(headers(device="another-device-0001"))


def test_a_forged_request_does_not_spend_the_nonce() -> None:
    store = MemoryStore()
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(BadDeviceSignature):
        verify(headers(key=other), store=store)
    verify(headers(), store=store)


@pytest.mark.parametrize("skew", [-61, 61, 10**6])
def test_timestamps_outside_the_window(skew: int) -> None:
    with pytest.raises(StaleDeviceRequest, match="±60 s"):
        verify(headers(ts=int(NOW.timestamp()) + skew))


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (wire.HEADER_TIMESTAMP, "12.5", "whole epoch seconds"),
        (wire.HEADER_NONCE, "short", "16-64 base64url"),
        (wire.HEADER_SIGNATURE, "!!!", "not base64url"),
        (wire.HEADER_DEVICE, "x" * 300, "longer than 256"),
        (wire.HEADER_NONCE, "", "missing"),
    ],
)
def test_malformed_headers(name: str, value: str, message: str) -> None:
    h = headers()
    h[name] = value
    with pytest.raises(DeviceRequestError, match=message):
        verify(h)


def test_only_p256_keys_are_accepted() -> None:
    rsa_public = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    der = rsa_public.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)  # fmt: skip
    with pytest.raises(InvalidDeviceInput, match="P-256"):
        verify(headers(), public=der)


def test_enrolment_invites_round_trip_and_refuse_junk() -> None:
    invite = wire.EnrolmentInvite(server="https://idp.example.com", token="t" * 32)
    assert wire.EnrolmentInvite.parse(invite.uri()) == invite
    for junk in (
        "https://idp/enrol?token=x",
        "hideez-idp://enrol?server=ftp://x&token=" + "t" * 32,
        "hideez-idp://enrol?server=https://idp&token=short",
        "x" * 3000,
    ):
        with pytest.raises(ValueError):
            wire.EnrolmentInvite.parse(junk)
