"""The shipped SP profiles (config/relying_parties) hold the SP facts in DESIGN.md."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from lxml import etree

from idp.config.reader import Node
from idp.config.saml import (
    IdpSamlSettings,
    ServiceProvider,
    parse_service_provider,
)
from idp.directory.model import Employee
from idp.errors import ConfigError
from idp.keys import SigningKey
from idp.saml import constants as c
from idp.saml.signing import SamlSigner
from idp.sessions import AuthContext
from tests.idp.saml import onelogin_sp as ol
from tests.idp.saml.saml_support import respond


def test_every_shipped_profile_loads(sps: dict[str, ServiceProvider]) -> None:
    assert set(sps) == {
        "github-org",
        "github-enterprise",
        "google-workspace",
        "google-workspace-sso-profile",
        "okta",
        "gitlab",
        "cisco-asa",
        "citrix-gateway",
        "citrix-cloud",
        "fortigate",
        "fortiauthenticator",
        "adfs",
        "oracle-oam",
        "standard-sp",
    }


def test_github(
    sps: dict[str, ServiceProvider],
    settings: IdpSamlSettings,
    idp_key: SigningKey,
    employee: Employee,
    context: AuthContext,
    signer: SamlSigner,
) -> None:
    sp = sps["github-org"]
    acs = sp.default_acs.url
    # What `hideez-idp employee update alice --external-id NAME=VALUE` sets.
    admin = replace(
        employee,
        external_ids={
            "github_administrator": "false",
            "github_public_keys": "ssh-ed25519 AAAA",
            "github_gpg_keys": "mQINBGX",
        },
    )
    xml = respond(settings, sp, None, admin, context, signer).xml
    sp_settings = ol.settings(
        idp_cert=idp_key, sp_entity=sp.entity_id, acs=acs, want_name_id_format=c.NAMEID_PERSISTENT
    )
    checked = ol.validate(sp_settings, xml, acs=acs, request_id=None)
    attributes = checked.get_attributes()
    assert attributes["username"] == ["alice"]
    assert attributes["full_name"] == ["Alice Liddell"]
    assert attributes["emails"] == ["alice@example.com"]
    assert attributes["public_keys"] == ["ssh-ed25519 AAAA"]
    assert attributes["gpg_keys"] == ["mQINBGX"]
    assert attributes["administrator"] == ["false"]
    assert "SessionNotOnOrAfter" in attributes
    # An employee without these external ids gets no such attribute, never an empty one.
    plain = ol.validate(
        sp_settings,
        respond(settings, sp, None, employee, context, signer).xml,
        acs=acs,
        request_id=None,
    ).get_attributes()
    assert not {"administrator", "public_keys", "gpg_keys"} & set(plain)
    assert checked.get_nameid_format() == c.NAMEID_PERSISTENT
    root = etree.fromstring(xml)
    assert root.get("Destination") == acs


def test_google_workspace(
    sps: dict[str, ServiceProvider],
    settings: IdpSamlSettings,
    idp_key: SigningKey,
    employee: Employee,
    context: AuthContext,
    signer: SamlSigner,
) -> None:
    sp = sps["google-workspace"]
    acs = sp.default_acs.url
    assert acs == "https://www.google.com/a/acme.example/acs"
    xml = respond(settings, sp, None, employee, context, signer).xml
    # Google's audience is google.com or google.com/a/DOMAIN, which python3-saml checks
    # against its own entity id.
    sp_settings = ol.settings(
        idp_cert=idp_key,
        sp_entity="google.com/a/acme.example",
        acs=acs,
        want_attribute_statement=False,
    )
    checked = ol.validate(sp_settings, xml, acs=acs, request_id=None)
    assert checked.get_nameid() == "alice@example.com"
    assert checked.get_nameid_format() == c.NAMEID_EMAIL
    default = parse_service_provider(
        Node(
            {
                "name": "g",
                "profile": "google_workspace",
                "entity_id": "google.com",
                "acs": [{"url": acs}],
            },
            "x.yaml",
            "",
        )
    )
    assert default.audience_value == "google.com"


def test_gitlab(
    sps: dict[str, ServiceProvider],
    settings: IdpSamlSettings,
    idp_key: SigningKey,
    employee: Employee,
    context: AuthContext,
    signer: SamlSigner,
) -> None:
    sp = sps["gitlab"]
    assert sp.sign_response and sp.entity_id == "https://gitlab.acme.example"
    acs = sp.default_acs.url
    xml = respond(settings, sp, None, employee, context, signer).xml
    sp_settings = ol.settings(
        idp_cert=idp_key, sp_entity=sp.entity_id, acs=acs, want_messages_signed=True
    )
    attributes = ol.validate(sp_settings, xml, acs=acs, request_id=None).get_attributes()
    assert attributes["email"] == ["alice@example.com"]
    assert attributes["first_name"] == ["Alice"] and attributes["last_name"] == ["Liddell"]
    assert attributes["name"] == ["Alice Liddell"]
    assert attributes["groups"] == ["engineering", "admins"]
    from idp.saml.errors import BuildError

    with pytest.raises(BuildError, match="requires 'email'"):
        respond(settings, sp, None, replace(employee, email=""), context, signer)


def test_okta_sha256(
    sps: dict[str, ServiceProvider],
    settings: IdpSamlSettings,
    idp_key: SigningKey,
    employee: Employee,
    context: AuthContext,
    signer: SamlSigner,
) -> None:
    sp = sps["okta"]
    xml = respond(settings, sp, None, employee, context, signer).xml
    assert b"rsa-sha1" not in xml and b"#sha1" not in xml
    assert xml.count(b"xmldsig-more#rsa-sha256") == 2
    acs = sp.default_acs.url
    sp_settings = ol.settings(idp_cert=idp_key, sp_entity=sp.entity_id, acs=acs)
    ol.validate(sp_settings, xml, acs=acs, request_id=None)


@pytest.mark.parametrize(
    ("data", "path", "reason"),
    [
        (
            {"name": "x", "entity_id": "e", "acs": [{"url": "https://a"}], "sign_repsonse": True},
            "sign_repsonse",
            "unknown key",
        ),
        ({"name": "x", "entity_id": "e"}, "acs", "at least one"),
        (
            {"name": "x", "entity_id": "e", "acs": [{"url": "https://a", "binding": "redirect"}]},
            "acs[0].binding",
            "not one of",
        ),
        (
            {
                "name": "x",
                "entity_id": "e",
                "acs": [{"url": "https://a"}],
                "want_authn_requests_signed": True,
            },
            "signing_certs",
            "no cert",
        ),
        (
            {
                "name": "x",
                "entity_id": "e",
                "acs": [{"url": "https://a"}],
                "attributes": [{"source": "pasword", "name": "p"}],
            },
            "attributes[0].source",
            "unknown attribute source",
        ),
        (
            {"name": "x", "profile": "myspace", "entity_id": "e", "acs": [{"url": "https://a"}]},
            "profile",
            "not one of",
        ),
        (
            {
                "name": "x",
                "entity_id": "e",
                "acs": [{"url": "https://a"}],
                "sign_response": False,
                "sign_assertion": False,
            },
            "sign_assertion",
            "must be signed",
        ),
    ],
)
def test_bad_sp_config_names_the_key(data: dict[str, object], path: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_service_provider(Node(data, "rp.yaml", ""))
    assert info.value.path == path
    assert reason in info.value.reason


@pytest.mark.parametrize(
    "location",
    ["javascript:alert(document.domain)", "data:text/html,<script>x</script>", "//evil/acs"],
)
def test_sp_metadata_endpoints_must_be_http_urls(tmp_path: Path, location: str) -> None:
    """Metadata ACS/SLO locations become form actions and redirect targets; YAML ones must be
    http(s) already, metadata ones are held to the same rule at start."""
    from xml.sax.saxutils import quoteattr

    metadata = tmp_path / "sp.xml"
    metadata.write_text(
        f'<md:EntityDescriptor xmlns:md="{c.MD_NS}" entityID="https://sp.example">'
        f'<md:SPSSODescriptor protocolSupportEnumeration="{c.SAMLP_NS}">'
        f'<md:AssertionConsumerService Binding="{c.BINDING_POST}" Location="https://sp.example/acs"'
        ' index="0"/>'
        f'<md:SingleLogoutService Binding="{c.BINDING_REDIRECT}" Location="https://sp.example/slo"'
        f" ResponseLocation={quoteattr(location)}/>"
        "</md:SPSSODescriptor></md:EntityDescriptor>"
    )
    with pytest.raises(ConfigError) as info:
        parse_service_provider(
            Node({"name": "x", "metadata": "sp.xml"}, str(tmp_path / "x.yaml"), "")
        )
    assert info.value.path == "metadata"
    assert "is not an http(s) URL" in info.value.reason
