"""The CA interface for passwordless PC login, and a local CA on ``cryptography``.

A logon certificate is short-lived (minutes) and carries what Windows smart-card logon
checks: the Smart Card Logon EKU (1.3.6.1.4.1.311.20.2.2) and clientAuth, digitalSignature
key usage, and the user's UPN as an ``otherName`` of type 1.3.6.1.4.1.311.20.2.3 in the SAN
(Microsoft KB 281245). It is issued to the workstation's own public key, so only that
workstation can use it. An AD CS enrolment adapter would implement :class:`CertificateAuthority`
by submitting a CSR to the "Smartcard Logon" duplicate template (docs/workstations.md).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from idp.errors import InvalidRequest

SMART_CARD_LOGON = ObjectIdentifier("1.3.6.1.4.1.311.20.2.2")
MS_UPN = ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")
MAX_LIFETIME = dt.timedelta(hours=1)
_UPN = re.compile(r"[^@\s]{1,113}@[^@\s.]+(\.[^@\s.]+)+")
_BACKDATE = dt.timedelta(minutes=1)


class InvalidCertificateRequest(InvalidRequest):
    error = "invalid_certificate_request"


@dataclass(frozen=True)
class LogonCertificate:
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]

    def pem(self) -> str:
        return "".join(
            c.public_bytes(serialization.Encoding.PEM).decode()
            for c in (self.certificate, *self.chain)
        )


class CertificateAuthority(Protocol):
    def issue_logon_certificate(
        self,
        *,
        upn: str,
        public_key: ec.EllipticCurvePublicKey,
        now: dt.datetime,
        lifetime: dt.timedelta,
    ) -> LogonCertificate: ...


def _der_utf8(text: str) -> bytes:
    """DER UTF8String (the UPN otherName's value)."""
    data = text.encode("utf-8")
    if len(data) < 0x80:
        return b"\x0c" + bytes([len(data)]) + data
    return b"\x0c\x81" + bytes([len(data)]) + data


class LocalCa:
    """A CA whose key and certificate are loaded once at start (never on a request path)."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate) -> None:
        self._key = key
        self.certificate = certificate

    @classmethod
    def load(cls, key_file: Path, cert_file: Path) -> LocalCa:
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{key_file}: the local CA key must be an EC key")
        return cls(key, x509.load_pem_x509_certificate(cert_file.read_bytes()))

    @classmethod
    def create(cls, common_name: str, *, now: dt.datetime, days: int = 3650) -> LocalCa:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    def save(self, key_file: Path, cert_file: Path) -> None:
        key_file.write_bytes(
            self._key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        key_file.chmod(0o600)
        cert_file.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))

    def issue_logon_certificate(
        self,
        *,
        upn: str,
        public_key: ec.EllipticCurvePublicKey,
        now: dt.datetime,
        lifetime: dt.timedelta,
    ) -> LogonCertificate:
        if not _UPN.fullmatch(upn):
            raise InvalidCertificateRequest(f"upn: expected user@domain, got {upn!r}")
        if not dt.timedelta(minutes=1) <= lifetime <= MAX_LIFETIME:
            raise InvalidCertificateRequest(
                f"a logon certificate lives 1-60 minutes, asked for {lifetime}"
            )
        ca_public = self._key.public_key()
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, upn)]))
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(now + lifetime)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                critical=True,
            )
            .add_extension(
                x509.ExtendedKeyUsage([SMART_CARD_LOGON, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .add_extension(
                x509.SubjectAlternativeName([x509.OtherName(MS_UPN, _der_utf8(upn))]),
                critical=False,
            )
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_public), False)
            .sign(self._key, hashes.SHA256())
        )
        return LogonCertificate(cert, (self.certificate,))
