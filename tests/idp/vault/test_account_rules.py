"""Login formats, URL and app normalisation, OTP secrets and key identifiers."""

from __future__ import annotations

import pytest

from idp.errors import IdpError
from idp.vault import account_rules as rules
from idp.vault.model import LoginType


@pytest.mark.parametrize(
    ("raw", "login_type", "stored"),
    [
        ("alice", LoginType.WEB_APP, "alice"),
        ("Alice@Corp.example", LoginType.WEB_APP, "Alice@Corp.example"),
        ("alice", LoginType.LOCAL, ".\\alice"),
        (".\\alice", LoginType.LOCAL, ".\\alice"),
        ("corp\\alice", LoginType.DOMAIN, "CORP\\alice"),
        ("corp.example\\alice", LoginType.DOMAIN, "CORP.EXAMPLE\\alice"),
        ("alice", LoginType.AZURE_AD, "AzureAD\\alice"),
        ("azuread\\alice", LoginType.AZURE_AD, "AzureAD\\alice"),
        ("Alice@Outlook.com", LoginType.MICROSOFT, "alice@outlook.com"),
    ],
)
def test_login_formats(raw: str, login_type: LoginType, stored: str) -> None:
    assert rules.login(raw, login_type) == stored


@pytest.mark.parametrize(
    ("raw", "login_type"),
    [
        ("", LoginType.WEB_APP),
        ("corp\\", LoginType.DOMAIN),
        ("\\alice", LoginType.DOMAIN),
        ("co rp\\alice", LoginType.DOMAIN),
        ("corp\\al*ce", LoginType.DOMAIN),
        ("x\\alice", LoginType.LOCAL),
        ("alice@", LoginType.MICROSOFT),
    ],
)
def test_malformed_logins(raw: str, login_type: LoginType) -> None:
    with pytest.raises(IdpError):
        rules.login(raw, login_type)


def test_urls_are_normalised_and_deduplicated() -> None:
    assert rules.urls(
        ("GitHub.com.", "https://github.com/", "HTTPS://GITHUB.COM", "http://Intra.Corp:8080/a?b=1")
    ) == ("https://github.com", "http://intra.corp:8080/a?b=1")
    for bad in ("javascript:alert(1)", "https://exa mple.com", "http://[::1", "https://:80"):
        with pytest.raises(IdpError):
            rules.url(bad)


def test_app_names_are_trimmed_and_deduplicated_case_insensitively() -> None:
    assert rules.apps(("  Microsoft   Teams ", "microsoft teams", "Outlook")) == (
        "Microsoft Teams",
        "Outlook",
    )


def test_otp_secret_forms() -> None:
    assert rules.otp_secret("jbsw y3dp ehpk 3pxp") == "JBSWY3DPEHPK3PXP"
    assert rules.otp_secret("JBSWY3DPEHPK3PXP====") == "JBSWY3DPEHPK3PXP"
    uri = "otpauth://totp/Corp:a?secret=JBSWY3DPEHPK3PXP&issuer=Corp"
    assert rules.otp_secret(uri) == "JBSWY3DPEHPK3PXP"
    for bad in ("", "1111111111111111", "otpauth://totp/a?secret=A&secret=B"):
        with pytest.raises(IdpError):
            rules.otp_secret(bad)


def test_serials_and_macs() -> None:
    assert rules.serial(" st10101 ") == "ST10101"
    assert rules.mac("aa-bb-cc-dd-ee-ff") == "AA:BB:CC:DD:EE:FF"
    for bad in ("", "ab", "ST 1", "ST1;DROP", "S" * 65):
        with pytest.raises(IdpError):
            rules.serial(bad)
    with pytest.raises(IdpError):
        rules.mac("AA:BB:CC:DD:EE")
