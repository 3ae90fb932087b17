"""A pysaml2 ``CryptoBackend`` that signs and verifies in process with python-xmlsec.

pysaml2's default backend writes temporary files and runs the ``xmlsec1`` program (twice per
signature, counting a version check). This backend keeps the signing key loaded once (an
:class:`~idp.xmlsig.XmlSigner`-style ``xmlsec.Key``) and signs the ``ds:Signature`` template
pysaml2 already placed in the statement. Install it with :func:`install`.
"""

from __future__ import annotations

import functools
from typing import Any

import xmlsec
from lxml import etree
from saml2.sigver import CryptoBackend, SignatureError

from idp.keys import SigningKey
from idp.saml import constants as c

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


class InProcessCryptoBackend(CryptoBackend):  # type: ignore[misc]
    """Signs with ``key`` (whatever ``key_file`` pysaml2 passes); verifies with PEM certs."""

    def __init__(self, key: SigningKey) -> None:
        super().__init__()
        self._key = xmlsec.Key.from_memory(key.key_pem, xmlsec.constants.KeyDataFormatPem)
        self._key.load_cert_from_memory(key.cert_pem, xmlsec.constants.KeyDataFormatPem)

    @property
    def version(self) -> str:
        return ".".join(str(n) for n in xmlsec.get_libxml_version())

    def sign_statement(self, statement: Any, node_name: str, key_file: Any, node_id: Any) -> str:
        root = etree.fromstring(_bytes(statement), parser=_PARSER)
        xmlsec.tree.add_ids(root, ["ID"])
        signature = _signature_of(root, node_name, node_id)
        ctx = xmlsec.SignatureContext()
        ctx.key = self._key
        try:
            ctx.sign(signature)
        except xmlsec.Error as exc:
            raise SignatureError(f"in-process signing failed: {exc}") from None
        return str(etree.tostring(root, encoding="unicode"))

    def validate_signature(
        self, signedtext: Any, cert_file: str, cert_type: str, node_name: str, node_id: Any
    ) -> bool:
        if cert_type != "pem":
            raise SignatureError(f"only PEM certificates are supported, got {cert_type}")
        root = etree.fromstring(_bytes(signedtext), parser=_PARSER)
        xmlsec.tree.add_ids(root, ["ID"])
        signature = _signature_of(root, node_name, node_id)
        ctx = xmlsec.SignatureContext()
        with open(cert_file, "rb") as handle:
            ctx.key = _cert_key(handle.read())
        try:
            ctx.verify(signature)
        except xmlsec.Error:
            return False
        return True


def install(entity: Any, key: SigningKey) -> InProcessCryptoBackend:
    """Make a pysaml2 entity (``saml2.server.Server`` ...) sign in process with ``key``."""
    backend = InProcessCryptoBackend(key)
    entity.sec.crypto = backend
    return backend


def _signature_of(root: etree._Element, node_name: str, node_id: str | None) -> etree._Element:
    ns, _, local = node_name.rpartition(":")
    tag = f"{{{ns}}}{local}"
    for element in root.iter(tag):
        if node_id and element.get("ID") != node_id:
            continue
        signature = element.find(f"{{{c.DS_NS}}}Signature")
        if signature is not None:
            return signature
    raise SignatureError(f"no Signature template on {local} {node_id or ''}")


def _bytes(text: Any) -> bytes:
    value = str(text) if not isinstance(text, str | bytes) else text
    return value.encode() if isinstance(value, str) else value


@functools.lru_cache(maxsize=64)
def _cert_key(pem: bytes) -> xmlsec.Key:
    # pysaml2 hands certificates over as temporary files; cache by content, not by name.
    return xmlsec.Key.from_memory(pem, xmlsec.constants.KeyDataFormatCertPem)
