"""idp.xmlsig builds its XML-DSig itself: two independent implementations must accept it —
python-xmlsec (libxmlsec1 in process) and the ``xmlsec1`` program — for every signature
method we offer, nested signatures included, and must refuse it once anything signed changes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import xmlsec
from lxml import etree

from idp.keys import SigningKey, generate_self_signed
from idp.xmlsig import DSIG_NS, SigningError, XmlSigner

NS = "urn:example:outer"
DOC = (
    b'<o:Outer xmlns:o="urn:example:outer" xmlns:unused="urn:example:unused" ID="_outer">'
    b"<o:Issuer>me</o:Issuer>"
    b'<i:Inner xmlns:i="urn:example:inner" ID="_inner" a="1"><i:V>caf\xc3\xa9 &amp; &lt;x&gt;</i:V>'
    b"</i:Inner></o:Outer>"
)


@pytest.fixture(scope="module", params=["rsa", "ec"])
def key(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    base = tmp_path_factory.mktemp(request.param)
    return generate_self_signed(
        base / "k.pem", base / "c.pem", common_name="xmlsig test", kind=request.param
    )


def _verify_in_process(root: etree._Element, signed: etree._Element, key: SigningKey) -> None:
    xmlsec.tree.add_ids(root, ["ID"])
    node = signed.find(f"{{{DSIG_NS}}}Signature")
    assert node is not None
    ctx = xmlsec.SignatureContext()
    ctx.key = xmlsec.Key.from_memory(key.cert_pem, xmlsec.constants.KeyDataFormatCertPem)
    ctx.verify(node)


def _verify_with_program(root: etree._Element, key: SigningKey, tmp_path: Path) -> bool:
    (tmp_path / "cert.pem").write_bytes(key.cert_pem)
    (tmp_path / "doc.xml").write_bytes(etree.tostring(root))
    command = [shutil.which("xmlsec1") or "xmlsec1", "--verify", "--enabled-reference-uris",
               "same-doc", "--pubkey-cert-pem", str(tmp_path / "cert.pem"),
               "--id-attr:ID", f"{NS}:Outer", "--id-attr:ID", "urn:example:inner:Inner",
               str(tmp_path / "doc.xml")]  # fmt: skip
    result = subprocess.run(command, capture_output=True, check=False)
    return result.returncode == 0


@pytest.mark.parametrize("hash_name", ["sha256", "sha384", "sha512"])
def test_nested_signatures_verify_independently(
    key: SigningKey, hash_name: str, tmp_path: Path
) -> None:
    if key.algorithm == "ES256" and hash_name != "sha256":
        pytest.skip("EC keys sign with SHA-256 only")
    root = etree.fromstring(DOC)
    inner = root[1]
    signer = XmlSigner(key, sign_hash=hash_name, digest_hash=hash_name)
    signer.sign(inner, id_attribute="ID")
    signer.sign(root, id_attribute="ID", insert_after=f"{{{NS}}}Issuer")
    # the signature sits right after Issuer; the inner one first in its element
    assert root[1].tag == f"{{{DSIG_NS}}}Signature"
    assert inner[0].tag == f"{{{DSIG_NS}}}Signature"
    reparsed = etree.fromstring(etree.tostring(root))
    _verify_in_process(reparsed, reparsed[2], key)
    _verify_in_process(reparsed, reparsed, key)
    assert _verify_with_program(root, key, tmp_path)


def test_a_changed_byte_is_refused(key: SigningKey, tmp_path: Path) -> None:
    root = etree.fromstring(DOC)
    XmlSigner(key).sign(root, id_attribute="ID")
    tampered = etree.fromstring(etree.tostring(root).replace(b"me<", b"me!<"))
    with pytest.raises(xmlsec.Error):
        _verify_in_process(tampered, tampered, key)
    assert not _verify_with_program(tampered, key, tmp_path)


def test_signature_carries_the_certificate_and_the_declared_algorithms(key: SigningKey) -> None:
    root = etree.fromstring(DOC)
    XmlSigner(key).sign(root, id_attribute="ID")
    ns = {"ds": DSIG_NS}
    assert root.findtext(".//ds:X509Certificate", namespaces=ns) == key.cert_der_b64
    method = root.find(".//ds:SignatureMethod", ns)
    assert method is not None
    expected = "rsa-sha256" if key.algorithm == "RS256" else "ecdsa-sha256"
    assert method.get("Algorithm", "").endswith(expected)
    assert root.find(".//ds:Reference", ns).get("URI") == "#_outer"  # type: ignore[union-attr]


def test_unsupported_choices_and_missing_ids_are_refused(key: SigningKey) -> None:
    with pytest.raises(SigningError, match="unsupported digest md5"):
        XmlSigner(key, digest_hash="md5")
    if key.algorithm == "ES256":
        with pytest.raises(SigningError, match="unsupported signature method ec-sha512"):
            XmlSigner(key, sign_hash="sha512")
    with pytest.raises(SigningError, match="no ID attribute"):
        XmlSigner(key).sign(etree.fromstring(b"<a/>"), id_attribute="ID")
