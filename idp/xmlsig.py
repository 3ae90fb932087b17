"""In-process XML-DSig with python-xmlsec: enveloped signatures, keys loaded once.

pysaml2 and SATOSA default to spawning the ``xmlsec1`` program (twice per signature); this
signer keeps one ``xmlsec.Key`` per signing key, created at start, and signs in process.
Used by SAML 2.0 responses and metadata and by WS-Federation tokens (SAML 1.1 and 2.0).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import xmlsec
from lxml import etree

from idp.errors import IdpError
from idp.keys import SigningKey

DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"

_SIGN_METHODS = {
    ("rsa", "sha256"): xmlsec.constants.TransformRsaSha256,
    ("rsa", "sha384"): xmlsec.constants.TransformRsaSha384,
    ("rsa", "sha512"): xmlsec.constants.TransformRsaSha512,
    ("rsa", "sha1"): xmlsec.constants.TransformRsaSha1,
    ("ec", "sha256"): xmlsec.constants.TransformEcdsaSha256,
}
_DIGESTS = {
    "sha256": xmlsec.constants.TransformSha256,
    "sha384": xmlsec.constants.TransformSha384,
    "sha512": xmlsec.constants.TransformSha512,
    "sha1": xmlsec.constants.TransformSha1,
}


class SigningError(IdpError):
    error = "signing_error"


@dataclass
class XmlSigner:
    """Signs XML elements in place with one key (thread-safe; the key is loaded once)."""

    key: SigningKey
    sign_hash: str = "sha256"
    digest_hash: str = "sha256"
    _xmlsec_key: xmlsec.Key = field(init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        kind = "rsa" if self.key.algorithm == "RS256" else "ec"
        if (kind, self.sign_hash) not in _SIGN_METHODS:
            raise SigningError(f"unsupported signature method {kind}-{self.sign_hash}")
        if self.digest_hash not in _DIGESTS:
            raise SigningError(f"unsupported digest {self.digest_hash}")
        self._method = _SIGN_METHODS[(kind, self.sign_hash)]
        self._digest = _DIGESTS[self.digest_hash]
        xkey = xmlsec.Key.from_memory(self.key.key_pem, xmlsec.constants.KeyDataFormatPem)
        xkey.load_cert_from_memory(self.key.cert_pem, xmlsec.constants.KeyDataFormatPem)
        self._xmlsec_key = xkey

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
        signature = xmlsec.template.create(
            element, xmlsec.constants.TransformExclC14N, self._method, ns="ds"
        )
        _place(element, signature, insert_after)
        ref = xmlsec.template.add_reference(signature, self._digest, uri=f"#{ref_id}")
        xmlsec.template.add_transform(ref, xmlsec.constants.TransformEnveloped)
        xmlsec.template.add_transform(ref, xmlsec.constants.TransformExclC14N)
        key_info = xmlsec.template.ensure_key_info(signature)
        xmlsec.template.add_x509_data(key_info)
        xmlsec.tree.add_ids(element, [id_attribute])
        ctx = xmlsec.SignatureContext()
        ctx.key = self._xmlsec_key
        try:
            ctx.sign(signature)
        except xmlsec.Error as exc:  # pragma: no cover - only on a broken key
            raise SigningError(f"XML signing failed: {exc}") from None
        return element


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
