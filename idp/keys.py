"""Signing keys, loaded once at start and passed around as objects.

Loading an RSA key from PEM costs ~40 ms (OpenSSL 3 key checks), so nothing on a request path
may load a key: the application loads each :class:`SigningKey` at start and hands the object
to the XML signer and the JWS signer.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from idp.errors import IdpError

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class KeyLoadError(IdpError):
    error = "key_load_error"


@dataclass(frozen=True, eq=False)
class SigningKey:
    """A private key with its certificate; ``kid`` is the certificate's SHA-256 thumbprint."""

    kid: str
    private_key: PrivateKey
    certificate: x509.Certificate
    key_pem: bytes
    cert_pem: bytes

    @property
    def cert_der_b64(self) -> str:
        """The certificate as base64 DER, as XML-DSig ``X509Certificate`` and JWK ``x5c``."""
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        return base64.b64encode(der).decode("ascii")

    @property
    def algorithm(self) -> str:
        return "RS256" if isinstance(self.private_key, rsa.RSAPrivateKey) else "ES256"


@dataclass(frozen=True)
class KeySet:
    """The key in use and, during a rollover, the next one (published before it signs)."""

    current: SigningKey
    next: SigningKey | None = None

    @property
    def published(self) -> tuple[SigningKey, ...]:
        return (self.current,) if self.next is None else (self.current, self.next)


def load_signing_key(key_path: Path, cert_path: Path) -> SigningKey:
    """Load a PEM private key and its PEM certificate; refuse a mismatched pair."""
    try:
        key_pem = key_path.read_bytes()
        cert_pem = cert_path.read_bytes()
    except OSError as exc:
        raise KeyLoadError(f"cannot read key material: {exc.filename}: {exc.strerror}") from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyLoadError(f"{key_path}: not an unencrypted PEM private key ({exc})") from None
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        raise KeyLoadError(f"{cert_path}: not a PEM certificate ({exc})") from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise KeyLoadError(f"{key_path}: expected an RSA or EC P-256 key, got {type(key).__name__}")
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size < 2048:
        raise KeyLoadError(f"{key_path}: RSA key of {key.key_size} bits; at least 2048 required")
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    if key.public_key().public_bytes(enc, pub) != cert.public_key().public_bytes(enc, pub):
        raise KeyLoadError(f"{cert_path}: certificate does not match the key in {key_path}")
    return SigningKey(
        kid=thumbprint(cert),
        private_key=key,
        certificate=cert,
        key_pem=key_pem,
        cert_pem=cert_pem,
    )


def thumbprint(cert: x509.Certificate) -> str:
    der = cert.public_bytes(serialization.Encoding.DER)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()[:22]


def generate_self_signed(
    key_path: Path,
    cert_path: Path,
    *,
    common_name: str,
    kind: str = "rsa",
    days: int = 3650,
) -> SigningKey:
    """Create a key and a self-signed certificate (for ``hideez-idp demo`` and tests)."""
    private: PrivateKey
    if kind == "rsa":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif kind == "ec":
        private = ec.generate_private_key(ec.SECP256R1())
    else:
        raise ValueError(f"unknown key kind {kind!r}; expected 'rsa' or 'ec'")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .sign(private, hashes.SHA256())
    )
    key_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.write_bytes(key_pem)
    key_path.chmod(0o600)
    cert_path.write_bytes(cert_pem)
    return SigningKey(thumbprint(cert), private, cert, key_pem, cert_pem)
