"""What makes an account's fields valid, and their one normalised form.

Logins are stored as the key types them at the logon screen: ``.\\login`` (Local),
``DOMAIN\\login`` (Domain), ``AzureAD\\login`` (AzureAD), an e-mail address (Microsoft), as
given (WebApp). URLs get a lower-case scheme and host without trailing dots; URLs and app names
are de-duplicated (case-insensitively for apps). An OTP secret is base32 or an
``otpauth://totp/…?secret=…`` URI and is stored as the bare base32 secret.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from urllib.parse import parse_qs, urlsplit, urlunsplit

from idp.vault.errors import InvalidOtpSecret, InvalidVaultInput, VaultInputTooLarge
from idp.vault.model import LoginType

MAX_NAME = 255
MAX_LOGIN = 255
MAX_URL = 2048
MAX_ITEMS = 32
MAX_PASSWORD = 256
MAX_OTP = 512
#: RFC 4226 asks for at least 128 bits; authenticators in the field use 80 (16 base32 chars)
MIN_OTP_BYTES = 10
_DOMAIN_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,62}$")
_EMAIL = re.compile(r"^[^@\s\\]+@[^@\s\\]+\.[^@\s\\]+$")
_FORBIDDEN_IN_LOGIN = set('"/[]:;|=,+*?<>')


def _no_controls(value: str, what: str) -> str:
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in value):
        raise InvalidVaultInput(f"{what} must not contain control characters")
    return value


def text(value: str, what: str, *, limit: int = MAX_NAME) -> str:
    """A required one-line text field, trimmed."""
    if len(value) > limit:
        raise VaultInputTooLarge(f"{what} may have at most {limit} characters, got {len(value)}")
    cleaned = _no_controls(value.strip(), what)
    if not cleaned:
        raise InvalidVaultInput(f"{what} must not be empty")
    return cleaned


def login(raw: str, login_type: LoginType) -> str:
    """The login in its type's format; a bare name gets the type's prefix."""
    value = text(raw, "login", limit=MAX_LOGIN)
    if login_type is LoginType.WEB_APP:
        return value
    if login_type is LoginType.MICROSOFT:
        if not _EMAIL.match(value):
            raise InvalidVaultInput(f"a Microsoft login is an e-mail address, got {value!r}")
        return value.lower()
    prefix, sep, name = value.rpartition("\\")
    if login_type is LoginType.LOCAL:
        if sep and prefix != ".":
            raise InvalidVaultInput(f"a Local login is .\\login, got {value!r}")
        return ".\\" + _user_name(name)
    if login_type is LoginType.AZURE_AD:
        if sep and prefix.lower() != "azuread":
            raise InvalidVaultInput(f"an AzureAD login is AzureAD\\login, got {value!r}")
        return "AzureAD\\" + _user_name(name)
    if not sep or not _DOMAIN_PART.match(prefix):
        raise InvalidVaultInput(f"a Domain login is DOMAIN\\login, got {value!r}")
    return prefix.upper() + "\\" + _user_name(name)


def _user_name(name: str) -> str:
    if not name or any(c in _FORBIDDEN_IN_LOGIN or c == "\\" for c in name):
        raise InvalidVaultInput(f"{name!r} is not a valid Windows user name")
    return name


def url(raw: str) -> str:
    value = text(raw, "URL", limit=MAX_URL)
    if "://" not in value:
        value = "https://" + value
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise InvalidVaultInput(f"{raw!r} is not a URL") from None
    host = (parts.hostname or "").rstrip(".")
    if parts.scheme.lower() not in ("http", "https") or not host or " " in value:
        raise InvalidVaultInput(f"{raw!r} is not an http(s) URL with a host")
    netloc = host if port is None else f"{host}:{port}"
    path = "" if parts.path == "/" else parts.path
    return urlunsplit((parts.scheme.lower(), netloc, path, parts.query, ""))


def _bounded(values: tuple[str, ...], what: str) -> None:
    if len(values) > MAX_ITEMS:
        raise VaultInputTooLarge(f"at most {MAX_ITEMS} {what}, got {len(values)}")


def urls(values: tuple[str, ...]) -> tuple[str, ...]:
    _bounded(values, "URLs")
    return tuple(dict.fromkeys(url(v) for v in values))


def apps(values: tuple[str, ...]) -> tuple[str, ...]:
    _bounded(values, "app names")
    seen: dict[str, str] = {}
    for value in values:
        name = " ".join(text(value, "app name").split())
        seen.setdefault(name.lower(), name)
    return tuple(seen.values())


def password(value: str) -> str:
    if len(value) > MAX_PASSWORD:
        raise VaultInputTooLarge(f"a password may have at most {MAX_PASSWORD} characters")
    if not value:
        raise InvalidVaultInput("the password must not be empty")
    return _no_controls(value, "the password")


def otp_secret(raw: str) -> str:
    """The base32 secret of ``raw`` (base32, or an otpauth://totp/ URI), upper-case, unpadded."""
    if len(raw) > MAX_OTP:
        raise VaultInputTooLarge(f"an OTP secret may have at most {MAX_OTP} characters")
    value = raw.strip()
    if value.lower().startswith("otpauth://"):
        parts = urlsplit(value)
        if parts.netloc.lower() != "totp":
            raise InvalidOtpSecret(f"only otpauth://totp/ URIs are accepted, got {parts.netloc!r}")
        found = parse_qs(parts.query).get("secret", [])
        if len(found) != 1:
            raise InvalidOtpSecret("the otpauth:// URI must have exactly one secret= parameter")
        value = found[0]
    secret = value.replace(" ", "").replace("-", "").upper().rstrip("=")
    try:
        decoded = base64.b32decode(secret + "=" * (-len(secret) % 8))
    except (binascii.Error, ValueError):
        raise InvalidOtpSecret("the OTP secret is not base32 (A-Z, 2-7)") from None
    if len(decoded) < MIN_OTP_BYTES:
        raise InvalidOtpSecret(
            f"the OTP secret must be at least {MIN_OTP_BYTES} bytes, got {len(decoded)}"
        )
    return secret


def serial(raw: str) -> str:
    value = text(raw, "serial", limit=64).upper()
    if not re.fullmatch(r"[A-Z0-9][A-Z0-9\-]{3,63}", value):
        raise InvalidVaultInput(f"a key serial is 4-64 letters, digits and '-', got {raw!r}")
    return value


def mac(raw: str) -> str:
    value = text(raw, "MAC", limit=32).upper().replace("-", ":")
    if not re.fullmatch(r"([0-9A-F]{2}:){5}[0-9A-F]{2}", value):
        raise InvalidVaultInput(f"a MAC address is six hex pairs (AA:BB:CC:DD:EE:FF), got {raw!r}")
    return value
