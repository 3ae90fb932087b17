"""Test authenticators: soft-webauthn glue and a hand-built authenticator with every flag.

soft-webauthn 0.1.3 only does ES256 / attestation ``none`` and never sets UV; ``CraftedKey``
builds authenticatorData (WebAuthn L3 §6.1) and attestation objects (§6.5) by hand so that
UV/BE/BS flags, counters, EdDSA/RS256 keys and the ``packed`` (§8.2) and ``fido-u2f`` (§8.6)
attestation formats can be exercised.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import struct
import uuid
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import NameOID
from soft_webauthn import SoftWebauthnDevice

RP_ID = "localhost"
ORIGIN = "http://localhost:8080"
NOW = dt.datetime(2026, 1, 15, 9, 30, tzinfo=dt.UTC)

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def options_for_soft(options_json: str) -> dict[str, Any]:
    """Our options JSON → the dict soft-webauthn wants (binary members as bytes)."""
    options = json.loads(options_json)
    options["challenge"] = unb64u(options["challenge"])
    if "user" in options:
        options["user"]["id"] = unb64u(options["user"]["id"])
    return {"publicKey": options}


def soft_to_json(credential: dict[str, Any]) -> str:
    """soft-webauthn's bytes-valued credential → Registration/AuthenticationResponseJSON."""
    response = {
        k: (b64u(v) if isinstance(v, bytes) else v) for k, v in credential["response"].items()
    }
    return json.dumps(
        {
            "id": b64u(credential["rawId"]),
            "rawId": b64u(credential["rawId"]),
            "type": "public-key",
            "response": response,
        }
    )


def soft_device() -> SoftWebauthnDevice:
    return SoftWebauthnDevice()


def client_data(kind: str, challenge: bytes, origin: str = ORIGIN, **extra: Any) -> bytes:
    return json.dumps(
        {"type": kind, "challenge": b64u(challenge), "origin": origin, **extra}
    ).encode()


def _self_signed(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "UA"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Vendor"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Authenticator Attestation"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Test U2F attestation"),
        ]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2040, 1, 1, tzinfo=dt.UTC))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


@dataclass
class CraftedKey:
    """An authenticator we control bit by bit; ``alg`` is a COSE algorithm id (-7, -8, -257)."""

    alg: int = -7
    aaguid: bytes = field(
        default_factory=lambda: uuid.UUID("11111111-2222-3333-4444-555555555555").bytes
    )
    credential_id: bytes = field(default_factory=lambda: os.urandom(32))
    sign_count: int = 0
    user_handle: bytes | None = b"employee-1"
    rp_id: str = RP_ID
    private_key: Any = None

    def __post_init__(self) -> None:
        if self.private_key is None:
            if self.alg == -7:
                self.private_key = ec.generate_private_key(ec.SECP256R1())
            elif self.alg == -8:
                self.private_key = ed25519.Ed25519PrivateKey.generate()
            elif self.alg == -257:
                self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            elif self.alg == -35:
                self.private_key = ec.generate_private_key(ec.SECP384R1())
            else:
                raise ValueError(self.alg)

    @property
    def aaguid_str(self) -> str:
        return str(uuid.UUID(bytes=self.aaguid))

    def cose_key(self) -> bytes:
        pub = self.private_key.public_key()
        if self.alg in (-7, -35):
            nums = pub.public_numbers()
            size = 32 if self.alg == -7 else 48
            crv = 1 if self.alg == -7 else 2
            return cbor2.dumps(
                {
                    1: 2,
                    3: self.alg,
                    -1: crv,
                    -2: nums.x.to_bytes(size, "big"),
                    -3: nums.y.to_bytes(size, "big"),
                }
            )
        if self.alg == -8:
            raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            return cbor2.dumps({1: 1, 3: -8, -1: 6, -2: raw})
        nums = pub.public_numbers()
        return cbor2.dumps(
            {1: 3, 3: -257, -1: nums.n.to_bytes(256, "big"), -2: nums.e.to_bytes(3, "big")}
        )

    def sign(self, data: bytes) -> bytes:
        if self.alg in (-7, -35):
            algo = hashes.SHA256() if self.alg == -7 else hashes.SHA384()
            return self.private_key.sign(data, ec.ECDSA(algo))
        if self.alg == -8:
            return self.private_key.sign(data)
        return self.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def auth_data(self, flags: int, *, attested: bool, rp_id: str | None = None) -> bytes:
        rp_hash = hashlib.sha256((rp_id or self.rp_id).encode()).digest()
        data = (
            rp_hash + bytes([flags | (AT if attested else 0)]) + struct.pack(">I", self.sign_count)
        )
        if attested:
            data += (
                self.aaguid
                + struct.pack(">H", len(self.credential_id))
                + self.credential_id
                + self.cose_key()
            )
        return data

    def register(
        self,
        challenge: bytes,
        *,
        flags: int = UP,
        fmt: str = "none",
        origin: str = ORIGIN,
        kind: str = "webauthn.create",
        rp_id: str | None = None,
        transports: tuple[str, ...] = ("usb",),
        client_extra: dict[str, Any] | None = None,
    ) -> str:
        cdata = client_data(kind, challenge, origin, **(client_extra or {}))
        auth = self.auth_data(flags, attested=True, rp_id=rp_id)
        att_stmt = self._statement(fmt, auth, hashlib.sha256(cdata).digest())
        att_obj = cbor2.dumps({"fmt": fmt, "attStmt": att_stmt, "authData": auth})
        return self.registration_json(cdata, att_obj, transports=transports)

    def registration_json(
        self, cdata: bytes, att_obj: bytes, *, transports: tuple[str, ...] = ("usb",)
    ) -> str:
        return json.dumps(
            {
                "id": b64u(self.credential_id),
                "rawId": b64u(self.credential_id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": b64u(cdata),
                    "attestationObject": b64u(att_obj),
                    "transports": list(transports),
                },
            }
        )

    def _statement(self, fmt: str, auth: bytes, cdata_hash: bytes) -> dict[str, Any]:
        if fmt == "none":
            return {}
        if fmt == "packed":  # §8.2 self attestation: signed by the credential key itself
            return {"alg": self.alg, "sig": self.sign(auth + cdata_hash)}
        if fmt == "fido-u2f":  # §8.6 / FIDO U2F raw message formats §4.3 registration
            att_key = ec.generate_private_key(ec.SECP256R1())
            cert = _self_signed(att_key)
            nums = self.private_key.public_key().public_numbers()
            pub = b"\x04" + nums.x.to_bytes(32, "big") + nums.y.to_bytes(32, "big")
            rp_hash = auth[:32]
            base = b"\x00" + rp_hash + cdata_hash + self.credential_id + pub
            sig = att_key.sign(base, ec.ECDSA(hashes.SHA256()))
            return {"sig": sig, "x5c": [cert.public_bytes(serialization.Encoding.DER)]}
        raise ValueError(fmt)

    def assert_(
        self,
        challenge: bytes,
        *,
        flags: int = UP,
        origin: str = ORIGIN,
        kind: str = "webauthn.get",
        rp_id: str | None = None,
        count: int | None = None,
        client_extra: dict[str, Any] | None = None,
    ) -> str:
        self.sign_count = self.sign_count + 1 if count is None else count
        cdata = client_data(kind, challenge, origin, **(client_extra or {}))
        auth = self.auth_data(flags, attested=False, rp_id=rp_id)
        sig = self.sign(auth + hashlib.sha256(cdata).digest())
        response: dict[str, Any] = {
            "clientDataJSON": b64u(cdata),
            "authenticatorData": b64u(auth),
            "signature": b64u(sig),
        }
        if self.user_handle is not None:
            response["userHandle"] = b64u(self.user_handle)
        return json.dumps(
            {
                "id": b64u(self.credential_id),
                "rawId": b64u(self.credential_id),
                "type": "public-key",
                "response": response,
            }
        )


def mutate(response_json: str, path: tuple[str, ...], value: Any) -> str:
    """Replace one member of a response JSON (``("response", "signature")``)."""
    data = json.loads(response_json)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return json.dumps(data)
