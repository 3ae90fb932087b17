"""Independent checks: the xmlsec1 program verifies responses and metadata; no wrapping."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from lxml import etree

from idp.config.saml import IdpSamlSettings, ServiceProvider
from idp.directory.model import Employee
from idp.keys import KeySet, SigningKey
from idp.saml import constants as c
from idp.saml.metadata import build_metadata
from idp.saml.responses import build_response
from idp.saml.signing import SamlSigner
from idp.sessions import AuthContext
from tests.idp.saml.saml_support import NOW


def _xmlsec1_verify(xml: bytes, cert: Path, tmp_path: Path, *id_attrs: str) -> None:
    doc = tmp_path / "doc.xml"
    doc.write_bytes(xml)
    command = [
        "xmlsec1",
        "--verify",
        "--enabled-reference-uris",
        "same-doc",
        "--pubkey-cert-pem",
        str(cert),
        "--enabled-key-data",
        "rsa,key-name",
    ]
    for attr in id_attrs:
        command += ["--id-attr:ID", attr]
    result = subprocess.run([*command, str(doc)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


@pytest.fixture
def response_xml(
    settings: IdpSamlSettings,
    sp: ServiceProvider,
    employee: Employee,
    context: AuthContext,
    signer: SamlSigner,
) -> bytes:
    return build_response(
        settings=settings,
        sp=sp,
        request=None,
        subject=employee,
        context=context,
        authn_context_class_ref=c.REFEDS_MFA,
        session_index="s1",
        session_not_on_or_after=NOW + dt.timedelta(hours=1),
        signer=signer,
        now=dt.datetime.now(dt.UTC),
    ).xml


def test_xmlsec1_verifies_response_and_assertion(
    response_xml: bytes, key_dir: Path, tmp_path: Path
) -> None:
    _xmlsec1_verify(
        response_xml,
        key_dir / "idp.crt",
        tmp_path,
        f"{c.SAMLP_NS}:Response",
        f"{c.SAML_NS}:Assertion",
    )
    # The assertion alone (as an SP that checks only it would) verifies too.
    root = etree.fromstring(response_xml)
    assertion = root.find(f"{{{c.SAML_NS}}}Assertion")
    assert assertion is not None
    _xmlsec1_verify(
        etree.tostring(assertion), key_dir / "idp.crt", tmp_path, f"{c.SAML_NS}:Assertion"
    )


def test_signed_references_are_the_elements_read(response_xml: bytes) -> None:
    # Signature wrapping: each signature must reference its own parent element, and there
    # must be exactly one Assertion, the one whose ID the assertion signature references.
    root = etree.fromstring(response_xml)
    assertions = root.findall(f".//{{{c.SAML_NS}}}Assertion")
    assert len(assertions) == 1
    for element in (root, assertions[0]):
        signature = element.find(f"{{{c.DS_NS}}}Signature")
        assert signature is not None
        ref = signature.find(f".//{{{c.DS_NS}}}Reference")
        assert ref is not None and ref.get("URI") == "#" + element.get("ID", "")
        method = signature.find(f".//{{{c.DS_NS}}}SignatureMethod")
        assert method is not None
        assert method.get("Algorithm") == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
        # Signature sits right after Issuer (schema order, core §5.4.1)
        assert element[1] is signature


def test_xmlsec1_rejects_a_modified_response(
    response_xml: bytes, key_dir: Path, tmp_path: Path
) -> None:
    forged = response_xml.replace(b"alice@example.com", b"mallory@example.com")
    with pytest.raises(AssertionError):
        _xmlsec1_verify(
            forged,
            key_dir / "idp.crt",
            tmp_path,
            f"{c.SAMLP_NS}:Response",
            f"{c.SAML_NS}:Assertion",
        )


def test_metadata_is_signed_and_publishes_both_keys_in_rollover(
    settings: IdpSamlSettings,
    idp_key: SigningKey,
    idp_next_key: SigningKey,
    signer: SamlSigner,
    key_dir: Path,
    tmp_path: Path,
) -> None:
    keys = KeySet(idp_key, idp_next_key)
    xml = build_metadata(settings=settings, keys=keys, signer=signer, now=dt.datetime.now(dt.UTC))
    _xmlsec1_verify(xml, key_dir / "idp.crt", tmp_path, f"{c.MD_NS}:EntityDescriptor")
    root = etree.fromstring(xml)
    assert root.get("entityID") == settings.entity_id
    certs = [
        e.text
        for e in root.iterfind(
            f"{{{c.MD_NS}}}IDPSSODescriptor/{{{c.MD_NS}}}KeyDescriptor//{{{c.DS_NS}}}X509Certificate"
        )
    ]
    assert certs == [idp_key.cert_der_b64, idp_next_key.cert_der_b64]
    sso = {
        (e.get("Binding"), e.get("Location"))
        for e in root.iter(f"{{{c.MD_NS}}}SingleSignOnService")
    }
    assert sso == {(c.BINDING_REDIRECT, settings.sso_url), (c.BINDING_POST, settings.sso_url)}
    slo = {e.get("Binding") for e in root.iter(f"{{{c.MD_NS}}}SingleLogoutService")}
    assert slo == {c.BINDING_REDIRECT, c.BINDING_POST}
    formats = [e.text for e in root.iter(f"{{{c.MD_NS}}}NameIDFormat")]
    assert c.NAMEID_PERSISTENT in formats and c.NAMEID_EMAIL in formats


def test_pysaml2_in_process_backend_signs_and_verifies(
    idp_key: SigningKey, key_dir: Path, tmp_path: Path
) -> None:
    from saml2.saml import Issuer
    from saml2.samlp import Response
    from saml2.sigver import pre_signature_part

    from idp.saml.pysaml2_backend import InProcessCryptoBackend

    backend = InProcessCryptoBackend(idp_key)
    response = Response(
        id="_r1",
        version="2.0",
        issue_instant="2024-01-01T00:00:00Z",
        issuer=Issuer(text="https://idp.example.com"),
    )
    response.signature = pre_signature_part(
        "_r1",
        sign_alg="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        digest_alg="http://www.w3.org/2001/04/xmlenc#sha256",
    )
    signed = backend.sign_statement(str(response), f"{c.SAMLP_NS}:Response", None, "_r1")
    _xmlsec1_verify(signed.encode(), key_dir / "idp.crt", tmp_path, f"{c.SAMLP_NS}:Response")
    cert = str(key_dir / "idp.crt")
    assert backend.validate_signature(signed, cert, "pem", f"{c.SAMLP_NS}:Response", "_r1")
    forged = signed.replace("https://idp.example.com", "https://evil.example.com")
    assert not backend.validate_signature(forged, cert, "pem", f"{c.SAMLP_NS}:Response", "_r1")
