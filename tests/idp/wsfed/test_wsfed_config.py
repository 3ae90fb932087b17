"""The ``wsfed:`` section: defaults, the Exchange profile, and misconfiguration refused at start."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest
import yaml

from idp.config.reader import Node
from idp.config.schema import (
    IdpConfig,
    KeyFiles,
    Limits,
    Listen,
    SessionSettings,
    WebAuthnSettings,
)
from idp.config.wsfed import parse
from idp.errors import ConfigError
from idp.factors.kinds import FactorKind
from idp.policy import Policy, PolicySet
from idp.wsfed import constants as c
from idp.wsfed.model import ClaimRule, NameIdentifierRule, TokenType, WsFedSettings


@pytest.fixture
def config(tmp_path: Path) -> IdpConfig:
    policies = {
        "default": Policy(name="default", factors=frozenset({FactorKind.PASSKEY})),
        "mail": Policy(name="mail", factors=frozenset({FactorKind.HARDWARE_VAULT})),
    }
    return IdpConfig(
        source=tmp_path / "idp.yaml",
        base_url="https://idp.example.com",
        listen=Listen(),
        trusted_proxies=(),
        database_url="sqlite://",
        ephemeral_url="memory://",
        signing_key=KeyFiles(tmp_path / "k", tmp_path / "c"),
        next_signing_key=None,
        pairwise_salt="s" * 16,
        master_key=None,
        session=SessionSettings(),
        webauthn=WebAuthnSettings(rp_id="idp.example.com", rp_name="x", origins=()),
        policies=PolicySet(policies=policies),
        limits=Limits(),
        relying_parties_dir=tmp_path,
    )


def section(text: str, tmp_path: Path) -> Node:
    path = tmp_path / "idp.yaml"
    path.write_text(textwrap.dedent(text))
    return Node(yaml.safe_load(path.read_text())["wsfed"], str(path), "wsfed")


def load(text: str, config: IdpConfig, tmp_path: Path) -> WsFedSettings:
    settings = parse(section(text, tmp_path), config, {})
    assert settings is not None
    return settings


EXCHANGE = """
wsfed:
  relying_parties:
    - name: owa
      profile: exchange
      realm: https://mail.example.com/owa/
      reply_urls: [https://mail.example.com/owa/]
      policy: mail
    - name: ecp
      profile: exchange
      realm: https://mail.example.com/ecp
      reply_urls: [https://mail.example.com/ecp]
"""


def test_absent_section_means_off(config: IdpConfig) -> None:
    assert parse(None, config, {}) is None


def test_exchange_profile(config: IdpConfig, tmp_path: Path) -> None:
    settings = load(EXCHANGE, config, tmp_path)
    owa = settings.relying_party("https://mail.example.com/owa")
    assert owa is not None
    assert owa.token_type is TokenType.SAML11
    assert owa.policy == "mail"
    assert owa.claims[:2] == (
        ClaimRule(c.CLAIM_UPN, "upn", required=True),
        ClaimRule(c.CLAIM_PRIMARYSID, "primarysid", required=True),
    )
    assert {r.source for r in owa.claims} == {"upn", "primarysid", "name", "email", "groups"}
    assert settings.issuer == "https://idp.example.com"
    assert settings.token_lifetime == dt.timedelta(hours=1)
    assert settings.max_context_bytes == 2048
    assert settings.endpoint == "https://idp.example.com/wsfed"
    assert settings.metadata_url.endswith("/FederationMetadata/2007-06/FederationMetadata.xml")
    assert settings.source == str(tmp_path / "idp.yaml")


def test_every_key(config: IdpConfig, tmp_path: Path) -> None:
    settings = load(
        """
        wsfed:
          issuer: urn:example:idp
          token_lifetime_seconds: 1800
          max_context_bytes: 4096
          metadata_valid_days: 3
          signout_reply_urls: [https://portal.example.com/bye]
          relying_parties:
            - name: app
              realm: urn:contoso:app
              reply_urls: [https://app.example.com/, https://app.example.com/alt]
              token_type: saml20
              claims:
                upn: {source: upn, required: true}
                http://schemas.example.com/claims/dept: external_id:department
                windowsaccountname: windows_account:CORP
              name_identifier: {source: email, format: email}
              signout_url: https://app.example.com/logout
              signature_algorithm: rsa-sha512
              digest_algorithm: sha512
              token_lifetime_seconds: 600
              authentication_method: urn:oasis:names:tc:SAML:1.0:am:HardwareToken
        """,
        config,
        tmp_path,
    )
    rp = settings.relying_parties[0]
    assert settings.issuer == "urn:example:idp"
    assert settings.token_lifetime == dt.timedelta(minutes=30)
    assert settings.metadata_valid_for == dt.timedelta(days=3)
    assert settings.signout_reply_urls == ("https://portal.example.com/bye",)
    assert rp.claims == (
        ClaimRule(c.CLAIM_UPN, "upn", required=True),
        ClaimRule("http://schemas.example.com/claims/dept", "external_id:department"),
        ClaimRule(c.CLAIM_WINDOWS_ACCOUNT_NAME, "windows_account:CORP"),
    )
    assert rp.name_identifier == NameIdentifierRule("email", c.NAMEID_EMAIL)
    assert (rp.sign_hash, rp.digest_algorithm) == ("sha512", "sha512")
    assert rp.token_lifetime == dt.timedelta(minutes=10)
    assert rp.cleanup_url == "https://app.example.com/logout"


def test_relying_parties_file(config: IdpConfig, tmp_path: Path) -> None:
    (tmp_path / "rps.yaml").write_text(
        textwrap.dedent("""
        - name: sharepoint
          realm: urn:sharepoint:portal
          reply_urls: [https://portal.example.com/_trust/]
    """)
    )
    settings = load(EXCHANGE + "  relying_parties_file: rps.yaml\n", config, tmp_path)
    assert [rp.name for rp in settings.relying_parties] == ["owa", "ecp", "sharepoint"]
    assert settings.relying_parties[2].token_type is TokenType.SAML20


BAD = [
    ("relying_parties: []", "relying_parties: the list of relying parties is empty"),
    ("issuer: https://x\n  relying_part: []", "wsfed.relying_part: unknown key"),
    (
        "relying_parties:\n    - {name: a, realm: 'https://a.example.com/'}",
        r"relying_parties\[0\].reply_urls: at least one reply URL",
    ),
    (
        "relying_parties:\n    - {name: a, realm: 'https://a.example.com/', reply_urls: []}",
        r"relying_parties\[0\].reply_urls: at least one reply URL",
    ),
    (
        "relying_parties:\n    - {name: a, realm: not a uri, reply_urls: ['https://a.example.com/']}",
        "expected an absolute URI",
    ),
    (
        "relying_parties:\n    - {name: a, realm: urn:a, reply_urls: ['http://a.example.com/']}",
        "plain http is only allowed for localhost",
    ),
    (
        "relying_parties:\n    - {name: a, realm: urn:a, reply_urls: ['https://a.example.com/#x']}",
        "must not have a fragment",
    ),
    (
        "relying_parties:\n    - {name: a, realm: urn:a, reply_urls: ['https://a/'], "
        "policy: strict}",
        "no policy named 'strict'; defined: default, mail",
    ),
    (
        "relying_parties:\n    - {name: a, realm: urn:a, reply_urls: ['https://a/'], "
        "claims: {upn: password}}",
        r"claims.upn: unknown attribute source 'password'",
    ),
    (
        "relying_parties:\n    - {name: a, realm: urn:a, reply_urls: ['https://a/'], "
        "claims: {favourite_colour: email}}",
        "neither a claim type URI nor one of",
    ),
    (
        "relying_parties:\n    - {name: a, realm: urn:a, reply_urls: ['https://a/'], "
        "token_type: saml11, claims: {'urn:x:y': email}}",
        "cannot be split into a SAML 1.1",
    ),
    (
        "relying_parties:\n    - {name: a, realm: urn:a, reply_urls: ['https://a/'], "
        "claims: {upn: {source: upn, required: maybe}}}",
        "expected true or false",
    ),
    (
        "relying_parties:\n    - {name: a, realm: urn:a, reply_urls: ['https://a/'], "
        "claims: {windowsaccountname: 'windows_account:bad domain!'}}",
        "not a NetBIOS domain",
    ),
    (
        "relying_parties:\n    - {name: a, realm: urn:a, reply_urls: ['https://a/'], "
        "token_type: saml3}",
        "'saml3' is not one of: saml11, saml20",
    ),
    (
        "relying_parties:\n    - {name: a, realm: urn:a, reply_urls: ['https://a/'], "
        "signature_algorithm: rsa-md5}",
        "is not one of: rsa-sha256",
    ),
    (
        "relying_parties:\n    - {name: a, realm: urn:a, reply_urls: ['https://a/'], "
        "name_identifier: {format: email}}",
        r"name_identifier.source: is required",
    ),
    (
        "relying_parties:\n    - {name: a, realm: urn:a, reply_urls: ['https://a/'], "
        "token_lifetime_seconds: 5}",
        "must be at least 60",
    ),
    (
        "relying_parties:\n    - {name: a, realm: urn:a, reply_urls: ['https://a/']}\n"
        "    - {name: a, realm: urn:b, reply_urls: ['https://b/']}",
        "the name 'a' is used twice",
    ),
    (
        "relying_parties:\n    - {name: a, realm: 'https://a.example.com/owa/', reply_urls: "
        "['https://a/']}\n    - {name: b, realm: 'https://A.example.com/owa', reply_urls: "
        "['https://b/']}",
        "the realm is already configured for a",
    ),
    (
        "max_context_bytes: 100000\n  relying_parties:\n    - {name: a, realm: urn:a, "
        "reply_urls: ['https://a/']}",
        "max_context_bytes: must be at most 8192",
    ),
    ("relying_parties_file: missing.yaml", "cannot read file"),
    ("{}", "no relying parties"),
]


@pytest.mark.parametrize(("body", "message"), BAD)
def test_misconfiguration_is_refused_with_the_key_path(
    config: IdpConfig, tmp_path: Path, body: str, message: str
) -> None:
    text = "wsfed: {}\n" if body == "{}" else f"wsfed:\n  {body}\n"
    with pytest.raises(ConfigError, match=message) as info:
        load(text, config, tmp_path)
    assert str(tmp_path) in str(info.value)


REPO = Path(__file__).resolve().parents[3]


def test_the_example_file_parses(config: IdpConfig) -> None:
    path = REPO / "config/wsfed.example.yaml"
    node = Node(yaml.safe_load(path.read_text())["wsfed"], str(path), "wsfed")
    settings = parse(node, config, {})
    assert settings is not None
    assert [rp.name for rp in settings.relying_parties] == ["owa", "ecp", "expenses"]
    assert settings.relying_parties[2].token_lifetime == dt.timedelta(minutes=30)


def test_every_key_is_documented_and_in_the_example() -> None:
    from idp.config import wsfed as module

    doc = (REPO / "docs/wsfed.md").read_text()
    example = (REPO / "config/wsfed.example.yaml").read_text()
    for key in (*module._SECTION_KEYS, *module._RP_KEYS):
        assert f"| `{key}` |" in doc, key
        assert f"{key}:" in example, key
