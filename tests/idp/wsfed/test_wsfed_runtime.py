"""Start-time checks and federation metadata (WS-Federation 1.2 §3.1).

A realm whose signing is misconfigured must stop the server at start, not fail a sign-in.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from lxml import etree
from signxml import XMLVerifier

from idp.errors import ConfigError
from idp.keys import KeySet, SigningKey
from idp.wsfed import constants as c
from idp.wsfed.model import TokenType, WsFedSettings
from idp.wsfed.runtime import METADATA_CACHE, WsFedRuntime, build_wsfed
from idp.xmlsig import XmlSigner
from tests.idp.wsfed.conftest import NOW, make_settings, owa_rp

MD = {
    "md": c.MD_NS,
    "fed": c.FED_NS,
    "auth": c.AUTH_NS,
    "wsa": c.WSA_NS,
    "ds": c.DS_NS,
    "xsi": c.XSI_NS,
}


def test_an_ecdsa_realm_with_an_rsa_key_fails_at_start(rsa_key: SigningKey) -> None:
    settings = make_settings(
        owa_rp(), owa_rp(name="ecp", realm="urn:ecp", signature_algorithm="ecdsa-sha256")
    )
    with pytest.raises(
        ConfigError,
        match=r"relying_parties\[ecp\] \(realm urn:ecp\): "
        "signature_algorithm ecdsa-sha256 needs an EC key, but the signing "
        "key is RSA",
    ):
        build_wsfed(settings=settings, keys=KeySet(rsa_key), now=NOW)


def test_an_rsa_realm_with_an_ec_key_fails_at_start(ec_key: SigningKey) -> None:
    with pytest.raises(ConfigError, match="needs an RSA key, but the signing key is EC"):
        build_wsfed(settings=make_settings(owa_rp()), keys=KeySet(ec_key), now=NOW)


def test_an_expired_signing_certificate_fails_at_start(rsa_key: SigningKey) -> None:
    later = rsa_key.certificate.not_valid_after_utc + dt.timedelta(days=1)
    with pytest.raises(ConfigError, match="the signing certificate expired on"):
        build_wsfed(settings=make_settings(owa_rp()), keys=KeySet(rsa_key), now=later)


def test_a_key_that_does_not_sign_what_the_certificate_verifies_fails_at_start(
    rsa_key: SigningKey, other_key: SigningKey
) -> None:
    """The probe token is verified with the certificate: a swapped key cannot slip through."""
    mixed = SigningKey(
        kid=rsa_key.kid,
        private_key=other_key.private_key,
        certificate=rsa_key.certificate,
        key_pem=other_key.key_pem,
        cert_pem=rsa_key.cert_pem,
    )
    with pytest.raises(
        ConfigError,
        match=r"relying_parties\[owa\].*probe token could not be "
        "signed and verified",
    ):
        build_wsfed(settings=make_settings(owa_rp()), keys=KeySet(mixed), now=NOW)


def test_signers_are_built_once_per_algorithm_and_reuse_the_default(rsa_key: SigningKey) -> None:
    default = XmlSigner(rsa_key)
    settings = make_settings(
        owa_rp(),
        owa_rp(
            name="legacy",
            realm="urn:legacy",
            signature_algorithm="rsa-sha1",
            digest_algorithm="sha1",
        ),
        owa_rp(name="saml2", realm="urn:saml2", token_type=TokenType.SAML20),
    )
    wsfed = build_wsfed(settings=settings, keys=KeySet(rsa_key), now=NOW, default_signer=default)
    assert set(wsfed.signers) == {("sha256", "sha256"), ("sha1", "sha1")}
    assert wsfed.signers[("sha256", "sha256")] is default
    assert wsfed.signer_for(settings.relying_parties[1]).sign_hash == "sha1"


def _metadata(wsfed: WsFedRuntime, now: dt.datetime = NOW) -> etree._Element:
    return etree.fromstring(wsfed.metadata(now=now))


def test_metadata_describes_the_sts(wsfed: WsFedRuntime, settings: WsFedSettings) -> None:
    root = _metadata(wsfed)
    assert root.get("entityID") == settings.issuer
    assert root.get("validUntil") == "2025-03-11T10:00:00.123Z"
    roles = root.xpath("md:RoleDescriptor", namespaces=MD)
    assert len(roles) == 1
    role = roles[0]
    assert role.get(f"{{{c.XSI_NS}}}type") == "fed:SecurityTokenServiceType"
    assert role.nsmap["fed"] == c.FED_NS
    assert role.get("protocolSupportEnumeration") == c.FED_NS
    passive = role.xpath(
        "fed:PassiveRequestorEndpoint/wsa:EndpointReference/wsa:Address/text()", namespaces=MD
    )
    assert passive == ["https://idp.example.com/wsfed"]
    token_types = role.xpath("fed:TokenTypesOffered/fed:TokenType/@Uri", namespaces=MD)
    assert c.TOKEN_TYPE_SAML11 in token_types and c.TOKEN_TYPE_SAML20 in token_types
    claims = role.xpath("fed:ClaimTypesOffered/auth:ClaimType/@Uri", namespaces=MD)
    assert claims[:2] == [c.CLAIM_UPN, c.CLAIM_PRIMARYSID]
    assert c.CLAIM_AMR in claims
    names = role.xpath(
        "fed:ClaimTypesOffered/auth:ClaimType/auth:DisplayName/text()", namespaces=MD
    )
    assert names[:2] == ["UPN", "Primary SID"]
    # Schema order inside the role: keys, token types, claim types, then the endpoints.
    order = [etree.QName(e).localname for e in role]
    assert order == [
        "KeyDescriptor",
        "TokenTypesOffered",
        "ClaimTypesOffered",
        "SecurityTokenServiceEndpoint",
        "PassiveRequestorEndpoint",
    ]


def test_metadata_is_signed_with_our_key(
    wsfed: WsFedRuntime, rsa_key: SigningKey, key_dir: Path, tmp_path: Path
) -> None:
    document = wsfed.metadata(now=NOW)
    result = XMLVerifier().verify(document, x509_cert=rsa_key.cert_pem.decode(), id_attribute="ID")
    signed = result.signed_xml  # type: ignore[union-attr]
    assert etree.QName(signed).localname == "EntityDescriptor"
    assert signed.xpath(
        "md:RoleDescriptor/md:KeyDescriptor//ds:X509Certificate/text()", namespaces=MD
    ) == [rsa_key.cert_der_b64]
    path = tmp_path / "metadata.xml"
    path.write_bytes(document)
    proc = subprocess.run(
        [
            "xmlsec1",
            "--verify",
            "--enabled-reference-uris",
            "same-doc",
            "--pubkey-cert-pem",
            str(key_dir / "idp.crt"),
            "--enabled-key-data",
            "rsa,key-name",
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_metadata_publishes_the_next_key(
    settings: WsFedSettings, rsa_key: SigningKey, other_key: SigningKey
) -> None:
    wsfed = build_wsfed(settings=settings, keys=KeySet(rsa_key, other_key), now=NOW)
    certs = _metadata(wsfed).xpath(
        "//md:KeyDescriptor[@use='signing']//ds:X509Certificate/text()", namespaces=MD
    )
    assert certs == [rsa_key.cert_der_b64, other_key.cert_der_b64]


def test_metadata_is_cached_for_an_hour(wsfed: WsFedRuntime) -> None:
    first = wsfed.metadata(now=NOW)
    assert wsfed.metadata(now=NOW + METADATA_CACHE - dt.timedelta(seconds=1)) is first
    assert wsfed.metadata(now=NOW + METADATA_CACHE) != first
