"""The ``authenticator:`` section: app enrolment, push challenges, push services, TOTP.

Every key is optional; without the section the app and TOTP factors work with polling only
(no push service) and the defaults below. See docs/authenticator.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from idp.config.reader import Node, is_loopback, optional, secret_from

TOTP_ALGORITHMS = ("SHA1", "SHA256")


@dataclass(frozen=True)
class TotpSettings:
    algorithm: str = "SHA1"
    digits: int = 6
    period: int = 30
    issuer: str = "Hideez IdP"
    lockout_attempts: int = 5
    lockout_minutes: int = 5


@dataclass(frozen=True)
class FcmSettings:
    """Firebase Cloud Messaging HTTP v1 with a service account (OAuth 2.0 JWT grant)."""

    project_id: str
    client_email: str
    private_key_pem: str
    token_uri: str
    endpoint: str = "https://fcm.googleapis.com"
    ca_file: Path | None = None


@dataclass(frozen=True)
class ApnsSettings:
    """Apple Push Notification service over HTTP/2 with token (ES256 JWT) authentication."""

    team_id: str
    key_id: str
    private_key_pem: str
    topic: str
    endpoint: str = "https://api.push.apple.com"
    ca_file: Path | None = None


@dataclass(frozen=True)
class AuthenticatorSettings:
    enrolment_minutes: int = 10
    push_ttl: int = 120
    max_clock_skew: int = 60
    push_per_user_per_minute: int = 5
    push_per_address_per_minute: int = 30
    #: "this wasn't me" ends the employee's sessions and switches their SSO off
    suspend_sso_on_report: bool = False
    #: a request header a front proxy sets with the requester's location (e.g. a country)
    location_header: str | None = None
    #: how long a browser remembers the app it last signed in with (0: not at all)
    remember_device_days: int = 30
    #: pushes one process has in flight at once (each waits for the service's round trip)
    push_sender_threads: int = 4
    totp: TotpSettings = field(default_factory=TotpSettings)
    fcm: FcmSettings | None = None
    apns: ApnsSettings | None = None


AUTHENTICATOR_KEYS = (
    "enrolment_minutes",
    "push_ttl",
    "max_clock_skew",
    "push_per_user_per_minute",
    "push_per_address_per_minute",
    "suspend_sso_on_report",
    "location_header",
    "remember_device_days",
    "push_sender_threads",
    "totp",
    "fcm",
    "apns",
)


def parse_authenticator(node: Node, env: Mapping[str, str], base: Path) -> AuthenticatorSettings:
    node.only_keys(*AUTHENTICATOR_KEYS)
    d = AuthenticatorSettings()

    def num(key: str, low: int, high: int, default: int) -> int:
        return optional(node.get(key), lambda n: n.as_int(min_value=low, max_value=high), default)

    return AuthenticatorSettings(
        enrolment_minutes=num("enrolment_minutes", 1, 60, d.enrolment_minutes),
        push_ttl=num("push_ttl", 30, 600, d.push_ttl),
        max_clock_skew=num("max_clock_skew", 5, 600, d.max_clock_skew),
        push_per_user_per_minute=num("push_per_user_per_minute", 1, 60, d.push_per_user_per_minute),
        push_per_address_per_minute=num(
            "push_per_address_per_minute", 1, 100_000, d.push_per_address_per_minute
        ),
        suspend_sso_on_report=optional(
            node.get("suspend_sso_on_report"), lambda n: n.as_bool(), False
        ),
        location_header=optional(
            node.get("location_header"), lambda n: n.as_str(pattern=r"[A-Za-z0-9-]{1,64}")
        ),
        remember_device_days=num("remember_device_days", 0, 400, d.remember_device_days),
        push_sender_threads=num("push_sender_threads", 1, 32, d.push_sender_threads),
        totp=optional(node.get("totp"), _totp, d.totp),
        fcm=optional(node.get("fcm"), lambda n: _fcm(n, env, base)),
        apns=optional(node.get("apns"), lambda n: _apns(n, env, base)),
    )


def _totp(node: Node) -> TotpSettings:
    node.only_keys("algorithm", "digits", "period", "issuer", "lockout_attempts", "lockout_minutes")
    d = TotpSettings()
    return TotpSettings(
        algorithm=optional(node.get("algorithm"), lambda n: n.as_choice(TOTP_ALGORITHMS), "SHA1"),
        digits=optional(node.get("digits"), _digits, d.digits),
        period=optional(
            node.get("period"), lambda n: n.as_int(min_value=15, max_value=120), d.period
        ),
        issuer=optional(
            node.get("issuer"), lambda n: n.as_str(pattern=r"[^:]{1,64}", max_len=64), d.issuer
        ),
        lockout_attempts=optional(
            node.get("lockout_attempts"),
            lambda n: n.as_int(min_value=1, max_value=100),
            d.lockout_attempts,
        ),
        lockout_minutes=optional(
            node.get("lockout_minutes"),
            lambda n: n.as_int(min_value=1, max_value=1440),
            d.lockout_minutes,
        ),
    )


def _digits(node: Node) -> int:
    digits = node.as_int(min_value=6, max_value=8)
    if digits not in (6, 8):
        raise node.error(f"expected 6 or 8 digits, got {digits}")
    return digits


def _endpoint(node: Node | None, default: str) -> str:
    if node is None:
        return default
    value = node.as_str()
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or parts.path not in ("", "/"):
        raise node.error(f"expected an https://host[:port] origin, got {value!r}")
    return value.rstrip("/")


def _ca_file(node: Node | None, base: Path) -> Path | None:
    if node is None:
        return None
    path = node.as_path(base)
    if not path.is_file():
        raise node.error(f"file {path} does not exist")
    return path


def _fcm(node: Node, env: Mapping[str, str], base: Path) -> FcmSettings:
    node.only_keys("project_id", "service_account", "endpoint", "ca_file")
    account_node = node.child("service_account")
    try:
        account = json.loads(secret_from(account_node, env=env))
    except ValueError:
        raise account_node.error(
            "the service account is not JSON (download it from Firebase)"
        ) from None
    if not isinstance(account, dict) or not all(
        isinstance(account.get(k), str) and account[k]
        for k in ("client_email", "private_key", "token_uri")
    ):
        raise account_node.error(
            "the service account JSON needs client_email, private_key and token_uri"
        )
    token_uri = account["token_uri"]
    parts = urlsplit(token_uri)
    if parts.scheme != "https" and not (
        parts.scheme == "http" and is_loopback(parts.hostname or "")
    ):
        raise account_node.error(f"token_uri must be https, got {token_uri!r}")
    return FcmSettings(
        project_id=node.child("project_id").as_str(pattern=r"[a-z][a-z0-9-]{3,62}"),
        client_email=account["client_email"],
        private_key_pem=account["private_key"],
        token_uri=token_uri,
        endpoint=_endpoint(node.get("endpoint"), "https://fcm.googleapis.com"),
        ca_file=_ca_file(node.get("ca_file"), base),
    )


def _apns(node: Node, env: Mapping[str, str], base: Path) -> ApnsSettings:
    node.only_keys("team_id", "key_id", "key", "topic", "endpoint", "ca_file")
    key_node = node.child("key")
    pem = secret_from(key_node, env=env)
    if "BEGIN PRIVATE KEY" not in pem:
        raise key_node.error("expected the .p8 signing key from Apple (a PEM private key)")
    return ApnsSettings(
        team_id=node.child("team_id").as_str(pattern=r"[A-Z0-9]{10}"),
        key_id=node.child("key_id").as_str(pattern=r"[A-Z0-9]{10}"),
        private_key_pem=pem,
        topic=node.child("topic").as_str(pattern=r"[A-Za-z0-9.-]{1,200}"),
        endpoint=_endpoint(node.get("endpoint"), "https://api.push.apple.com"),
        ca_file=_ca_file(node.get("ca_file"), base),
    )
