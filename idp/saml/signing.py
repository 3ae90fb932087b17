"""Signing our SAML messages and verifying the SPs' signatures, all in process.

Keys are loaded once: :class:`SamlSigner` builds one :class:`~idp.xmlsig.XmlSigner` per
algorithm pair at start; SP certificates become ``xmlsec`` keys once per certificate (cached).
Nothing here spawns ``xmlsec1``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field

import xmlsec
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from lxml import etree

from idp.keys import KeySet, SigningKey
from idp.saml import constants as c
from idp.saml.errors import BuildError, SignatureInvalid
from idp.xmlsig import XmlSigner

# The only transforms a SAML signature needs (SAML core §5.4.3, §5.4.4). Anything else (XPath,
# XSLT, ...) could make the signature cover less than the element we read, or run code before
# the signature is checked.
_ALLOWED_TRANSFORMS = (
    xmlsec.constants.TransformEnveloped,
    xmlsec.constants.TransformExclC14N,
    xmlsec.constants.TransformExclC14NWithComments,
    xmlsec.constants.TransformInclC14N,
    xmlsec.constants.TransformInclC14NWithComments,
)
_REFERENCE_TRANSFORMS = frozenset(t.href for t in _ALLOWED_TRANSFORMS)
_C14N_METHODS = _REFERENCE_TRANSFORMS - {xmlsec.constants.TransformEnveloped.href}

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


@dataclass
class SamlSigner:
    """Our signing key with one XML signer per (signature hash, digest hash) pair.

    ``algorithms`` lists the pairs the configured SPs need; building a signer loads the key
    into xmlsec, so it happens here, at start, never on a request path.
    """

    keys: KeySet
    algorithms: Iterable[tuple[str, str]] = (("sha256", "sha256"),)
    _signers: dict[tuple[str, str], XmlSigner] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        pairs = set(self.algorithms) | {("sha256", "sha256")}
        self._signers = {
            (s, d): XmlSigner(self.keys.current, sign_hash=s, digest_hash=d) for s, d in pairs
        }

    @property
    def key(self) -> SigningKey:
        return self.keys.current

    def xml_signer(self, *, sign_hash: str, digest_hash: str) -> XmlSigner:
        try:
            return self._signers[(sign_hash, digest_hash)]
        except KeyError:
            raise BuildError(
                f"no signer prepared for {sign_hash}/{digest_hash}; "
                f"prepared: {sorted(self._signers)}"
            ) from None

    def sig_alg_uri(self, sign_hash: str) -> str:
        kind = "rsa" if self.key.algorithm == "RS256" else "ec"
        return c.SIG_ALG_URIS[(kind, sign_hash)]

    def sign_octets(self, octets: bytes, *, sign_hash: str) -> bytes:
        """Raw signature for the HTTP-Redirect binding (bindings §3.4.4.1)."""
        key = self.key.private_key
        algorithm = _HASHES[sign_hash]()
        if isinstance(key, rsa.RSAPrivateKey):
            return key.sign(octets, padding.PKCS1v15(), algorithm)
        return key.sign(octets, ec.ECDSA(algorithm))


def verify_redirect_signature(
    *,
    signed_octets: bytes,
    signature: bytes,
    sig_alg: str,
    certs: tuple[bytes, ...],
    allow_sha1: bool,
) -> None:
    """Check an HTTP-Redirect query signature against any of the SP's certificates."""
    kind_hash = _accepted_sig_alg(sig_alg, allow_sha1=allow_sha1)
    for pem in certs:
        public = _certificate(pem).public_key()
        algorithm = _HASHES[kind_hash[1]]()
        try:
            if isinstance(public, rsa.RSAPublicKey) and kind_hash[0] == "rsa":
                public.verify(signature, signed_octets, padding.PKCS1v15(), algorithm)
                return
            if isinstance(public, ec.EllipticCurvePublicKey) and kind_hash[0] == "ec":
                public.verify(signature, signed_octets, ec.ECDSA(algorithm))
                return
        except InvalidSignature:
            continue
    raise SignatureInvalid("query-string signature does not verify with the SP's certificates")


def verify_enveloped(root: etree._Element, *, certs: tuple[bytes, ...], allow_sha1: bool) -> bool:
    """Verify the signature that is a direct child of ``root`` and references ``root``.

    Returns False when there is no such signature. A signature anywhere else, or one whose
    reference is not ``#<root ID>``, is refused: accepting it would let a signed element be
    wrapped inside an unsigned message (signature wrapping).
    """
    signatures = root.findall(f"{{{c.DS_NS}}}Signature")
    if not signatures:
        if root.find(f".//{{{c.DS_NS}}}Signature") is not None:
            raise SignatureInvalid("a Signature is present but not on the message element")
        return False
    if len(signatures) > 1:
        raise SignatureInvalid("more than one Signature on the message element")
    signature = signatures[0]
    root_id = root.get("ID")
    refs = signature.findall(f"{{{c.DS_NS}}}SignedInfo/{{{c.DS_NS}}}Reference")
    if not root_id or len(refs) != 1 or refs[0].get("URI") != f"#{root_id}":
        raise SignatureInvalid(f"signature must reference the message itself (#{root_id})")
    same_id = root.getroottree().xpath("//*[@ID=$i]", i=root_id)
    if not isinstance(same_id, list) or len(same_id) != 1:
        raise SignatureInvalid(f"ID {root_id!r} occurs more than once")
    method = signature.find(f"{{{c.DS_NS}}}SignedInfo/{{{c.DS_NS}}}SignatureMethod")
    _accepted_sig_alg(
        method.get("Algorithm", "") if method is not None else "", allow_sha1=allow_sha1
    )
    _check_transforms(signature, refs[0])
    digest = refs[0].find(f"{{{c.DS_NS}}}DigestMethod")
    digest_name = c.DIGEST_ALGS.get(digest.get("Algorithm", "") if digest is not None else "")
    if digest_name is None or (digest_name == "sha1" and not allow_sha1):
        raise SignatureInvalid("digest algorithm refused; SHA-256 or stronger expected")
    xmlsec.tree.add_ids(root, ["ID"])
    for pem in certs:
        ctx = xmlsec.SignatureContext()
        ctx.key = _xmlsec_key(pem)
        try:
            ctx.verify(signature)
            return True
        except xmlsec.Error:
            continue
    raise SignatureInvalid("XML signature does not verify with the SP's certificates")


def _check_transforms(signature: etree._Element, reference: etree._Element) -> None:
    c14n = signature.find(f"{{{c.DS_NS}}}SignedInfo/{{{c.DS_NS}}}CanonicalizationMethod")
    c14n_uri = c14n.get("Algorithm", "") if c14n is not None else ""
    if c14n_uri not in _C14N_METHODS:
        raise SignatureInvalid(
            f"canonicalization {c14n_uri[:100]!r} refused; C14N or exclusive C14N expected"
        )
    for transform in reference.iterfind(f"{{{c.DS_NS}}}Transforms/{{{c.DS_NS}}}Transform"):
        uri = transform.get("Algorithm", "")
        if uri not in _REFERENCE_TRANSFORMS:
            raise SignatureInvalid(
                f"reference transform {uri[:100]!r} refused; only enveloped-signature and C14N "
                "are accepted"
            )


def _accepted_sig_alg(uri: str, *, allow_sha1: bool) -> tuple[str, str]:
    kind_hash = c.SIG_ALGS.get(uri)
    if kind_hash is None:
        raise SignatureInvalid(f"signature algorithm {uri!r} is not supported")
    if kind_hash[1] == "sha1" and not allow_sha1:
        raise SignatureInvalid("RSA-SHA1 signatures are refused for this SP; RSA-SHA256 expected")
    return kind_hash


@functools.lru_cache(maxsize=256)
def _certificate(pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)


@functools.lru_cache(maxsize=256)
def _xmlsec_key(pem: bytes) -> xmlsec.Key:
    return xmlsec.Key.from_memory(pem, xmlsec.constants.KeyDataFormatCertPem)
