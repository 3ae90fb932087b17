"""The ``authenticator:`` section: defaults, push services, TOTP policy, refused values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from idp.config.loader import load_config
from idp.config.reader import ConfigErrors
from idp.errors import ConfigError
from tests.idp.config.test_loader import BASE, ENV, write


def load(tmp_path: Path, section: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return load_config(write(tmp_path, BASE + section), env={**ENV, **(env or {})})


def errors(tmp_path: Path, section: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as refused:
        load(tmp_path, section, env)
    found = refused.value.errors if isinstance(refused.value, ConfigErrors) else [refused.value]
    return [e.description for e in found]


def test_defaults_without_the_section(tmp_path: Path) -> None:
    settings = load(tmp_path, "").authenticator
    assert (settings.enrolment_minutes, settings.push_ttl, settings.max_clock_skew) == (10, 120, 60)
    assert settings.totp.algorithm == "SHA1" and settings.totp.digits == 6
    assert settings.totp.lockout_attempts == 5 and settings.totp.lockout_minutes == 5
    assert settings.fcm is None and settings.apns is None and not settings.suspend_sso_on_report


def test_sha256_eight_digits_and_push_services(tmp_path: Path) -> None:
    account = {"client_email": "a@p.iam.gserviceaccount.com", "private_key": "-----BEGIN…",
               "token_uri": "https://oauth2.googleapis.com/token"}  # fmt: skip
    (tmp_path / "fcm.json").write_text(json.dumps(account))
    key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())  # fmt: skip
    section = """
authenticator:
  suspend_sso_on_report: true
  location_header: CF-IPCountry
  totp: {algorithm: SHA256, digits: 8}
  fcm: {project_id: my-project, service_account: {file: fcm.json}}
  apns: {team_id: ABCDE12345, key_id: KEY1234567, key: {env: APNS_KEY}, topic: com.x.app}
"""
    settings = load(tmp_path, section, {"APNS_KEY": key.decode()}).authenticator
    assert settings.totp.algorithm == "SHA256" and settings.totp.digits == 8
    assert settings.fcm is not None and settings.fcm.endpoint == "https://fcm.googleapis.com"
    assert settings.apns is not None and settings.apns.endpoint == "https://api.push.apple.com"
    assert settings.location_header == "CF-IPCountry" and settings.suspend_sso_on_report


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("authenticator: {push_ttl: 5}", "authenticator.push_ttl"),
        ("authenticator: {totp: {digits: 7}}", "authenticator.totp.digits"),
        ("authenticator: {totp: {algorithm: MD5}}", "authenticator.totp.algorithm"),
        ("authenticator: {pushttl: 60}", "pushttl"),
        (
            "authenticator: {fcm: {project_id: p-1234, service_account: secret}}",
            "secrets must not be written in YAML",
        ),
        (
            "authenticator: {fcm: {project_id: p-1234, service_account: {env: NOTJSON}}}",
            "is not JSON",
        ),
        (
            "authenticator: {apns: {team_id: T, key_id: K, key: {env: NOTJSON}, topic: t}}",
            "authenticator.apns",
        ),
        (
            "authenticator: {fcm: {project_id: p-1234, service_account: {env: NOTJSON},"
            " endpoint: http://fcm.example.com}}",
            "authenticator.fcm",
        ),
    ],
)
def test_refused_values_name_the_key(tmp_path: Path, section: str, expected: str) -> None:
    found = errors(tmp_path, section + "\n", {"NOTJSON": "not json"})
    assert any(expected in e for e in found), found
