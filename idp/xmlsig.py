"""In-process XML-DSig: enveloped signatures with keys loaded once.

pysaml2 and SATOSA default to spawning the ``xmlsec1`` program (twice per signature). This
signer builds the ``ds:Signature`` itself — the one shape every signature here has: an
enveloped signature over one element referenced by its id, exclusive C14N (no prefix list)
for both the reference and ``SignedInfo``, the certificate in ``KeyInfo`` — and signs
``SignedInfo`` with the ``cryptography`` key object made at start. For this fixed shape the
enveloped-signature transform is the element's canonical form *before* the signature is
inserted, so no transform pipeline is needed. python-xmlsec, which we used before, copies the
key and its certificate into a fresh context and builds an OpenSSL context per signature:
~0.4 ms per signature on top of the RSA operation, twice per SAML response. The output is
checked by independent verifiers in the tests (the ``xmlsec1`` program, python3-saml,
signxml).

Used by SAML 2.0 responses, logout messages and metadata and by WS-Federation tokens
(SAML 1.1 and 2.0).
"""

from __future__ import annotations

import base64
import copy
import hashlib
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from lxml import etree

from idp.errors import IdpError
from idp.keys import SigningKey

DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
_EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
_ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"

# (key kind, hash) → SignatureMethod URI (RFC 6931 §2.3); hash → DigestMethod URI (§2.1).
_SIGN_METHODS = {
    ("rsa", "sha256"): "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    ("rsa", "sha384"): "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    ("rsa", "sha512"): "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    ("rsa", "sha1"): "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    ("ec", "sha256"): "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
}
_DIGESTS = {
    "sha256": "http://www.w3.org/2001/04/xmlenc#sha256",
    "sha384": "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "sha512": "http://www.w3.org/2001/04/xmlenc#sha512",
    "sha1": "http://www.w3.org/2000/09/xmldsig#sha1",
}
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
    "sha1": hashes.SHA1,
}


class SigningError(IdpError):
    error = "signing_error"


def _ds(tag: str, parent: etree._Element, **attributes: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{DSIG_NS}}}{tag}", attributes)


def _canonical(element: etree._Element) -> bytes:
    return etree.tostring(element, method="c14n", exclusive=True, with_comments=False)


@dataclass
class XmlSigner:
    """Signs XML elements in place with one key (thread-safe: each signature is a copy of a
    template built once)."""

    key: SigningKey
    sign_hash: str = "sha256"
    digest_hash: str = "sha256"
    _method: str = field(init=False, repr=False)
    _digest: str = field(init=False, repr=False)
    _hash: hashes.HashAlgorithm = field(init=False, repr=False)
    _template: etree._Element = field(init=False, repr=False)

    def __post_init__(self) -> None:
        kind = "rsa" if isinstance(self.key.private_key, rsa.RSAPrivateKey) else "ec"
        if (kind, self.sign_hash) not in _SIGN_METHODS:
            raise SigningError(f"unsupported signature method {kind}-{self.sign_hash}")
        if self.digest_hash not in _DIGESTS:
            raise SigningError(f"unsupported digest {self.digest_hash}")
        self._method = _SIGN_METHODS[(kind, self.sign_hash)]
        self._digest = _DIGESTS[self.digest_hash]
        self._hash = _HASHES[self.sign_hash]()
        self._template = self._signature_template()

    def sign(
        self,
        element: etree._Element,
        *,
        id_attribute: str,
        insert_after: etree.QName | str | None = None,
    ) -> etree._Element:
        """Add an enveloped signature over ``element`` (referenced by ``#<id_attribute>``).

        The ``ds:Signature`` goes right after the child named ``insert_after`` (SAML puts it
        after ``Issuer``), else first. Exclusive C14N, the configured digest and method.
        """
        ref_id = element.get(id_attribute)
        if not ref_id:
            raise SigningError(f"element has no {id_attribute} attribute to reference")
        # The enveloped-signature transform removes the Signature again: the digest is over
        # the element as it is now, before the signature goes in.
        digest = hashlib.new(self.digest_hash, _canonical(element)).digest()
        signature = copy.deepcopy(self._template)
        _place(element, signature, insert_after)
        signed_info, value, _ = signature
        reference = signed_info[2]
        reference.set("URI", f"#{ref_id}")
        reference[2].text = base64.b64encode(digest).decode("ascii")
        signed = self._sign_bytes(_canonical(signed_info))
        value.text = base64.b64encode(signed).decode("ascii")
        return element

    def _signature_template(self) -> etree._Element:
        """Everything of a ``ds:Signature`` but the reference, the digest and the value."""
        signature = etree.Element(f"{{{DSIG_NS}}}Signature", nsmap={"ds": DSIG_NS})
        signed_info = _ds("SignedInfo", signature)
        _ds("CanonicalizationMethod", signed_info, Algorithm=_EXC_C14N)
        _ds("SignatureMethod", signed_info, Algorithm=self._method)
        reference = _ds("Reference", signed_info)
        transforms = _ds("Transforms", reference)
        _ds("Transform", transforms, Algorithm=_ENVELOPED)
        _ds("Transform", transforms, Algorithm=_EXC_C14N)
        _ds("DigestMethod", reference, Algorithm=self._digest)
        _ds("DigestValue", reference)
        _ds("SignatureValue", signature)
        key_info = _ds("KeyInfo", signature)
        _ds("X509Certificate", _ds("X509Data", key_info)).text = self.key.cert_der_b64
        return signature

    def _sign_bytes(self, data: bytes) -> bytes:
        key = self.key.private_key
        if isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, padding.PKCS1v15(), self._hash)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        # XML-DSig wants r || s, each the curve's size (RFC 4050 §3.3), not DER.
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(self._hash)))
        size = (key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def _place(
    element: etree._Element, signature: etree._Element, after: etree.QName | str | None
) -> None:
    if after is not None:
        tag = after.text if isinstance(after, etree.QName) else after
        for index, child in enumerate(element):
            if child.tag == tag:
                element.insert(index + 1, signature)
                return
    element.insert(0, signature)
