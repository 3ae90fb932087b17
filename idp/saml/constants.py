"""SAML 2.0 names: namespaces, bindings, NameID formats, status codes, algorithm URIs."""

from __future__ import annotations

from typing import Final

SAMLP_NS: Final = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML_NS: Final = "urn:oasis:names:tc:SAML:2.0:assertion"
MD_NS: Final = "urn:oasis:names:tc:SAML:2.0:metadata"
DS_NS: Final = "http://www.w3.org/2000/09/xmldsig#"
XENC_NS: Final = "http://www.w3.org/2001/04/xmlenc#"
XSI_NS: Final = "http://www.w3.org/2001/XMLSchema-instance"
XS_NS: Final = "http://www.w3.org/2001/XMLSchema"

BINDING_REDIRECT: Final = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
BINDING_POST: Final = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
BINDINGS: Final = {"redirect": BINDING_REDIRECT, "post": BINDING_POST}

NAMEID_PERSISTENT: Final = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
NAMEID_TRANSIENT: Final = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
NAMEID_EMAIL: Final = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
NAMEID_UNSPECIFIED: Final = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
NAMEID_FORMATS: Final = {
    "persistent": NAMEID_PERSISTENT,
    "transient": NAMEID_TRANSIENT,
    "email": NAMEID_EMAIL,
    "unspecified": NAMEID_UNSPECIFIED,
}

ATTRNAME_BASIC: Final = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
ATTRNAME_URI: Final = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
ATTRNAME_UNSPECIFIED: Final = "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"
ATTRNAME_FORMATS: Final = {
    "basic": ATTRNAME_BASIC,
    "uri": ATTRNAME_URI,
    "unspecified": ATTRNAME_UNSPECIFIED,
}

CM_BEARER: Final = "urn:oasis:names:tc:SAML:2.0:cm:bearer"

# Status codes, SAML core §3.2.2.2.
STATUS_SUCCESS: Final = "urn:oasis:names:tc:SAML:2.0:status:Success"
STATUS_REQUESTER: Final = "urn:oasis:names:tc:SAML:2.0:status:Requester"
STATUS_RESPONDER: Final = "urn:oasis:names:tc:SAML:2.0:status:Responder"
STATUS_NO_PASSIVE: Final = "urn:oasis:names:tc:SAML:2.0:status:NoPassive"
STATUS_NO_AUTHN_CONTEXT: Final = "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext"
STATUS_REQUEST_DENIED: Final = "urn:oasis:names:tc:SAML:2.0:status:RequestDenied"
STATUS_INVALID_NAMEID_POLICY: Final = "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy"
STATUS_AUTHN_FAILED: Final = "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"
STATUS_UNKNOWN_PRINCIPAL: Final = "urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal"
STATUS_PARTIAL_LOGOUT: Final = "urn:oasis:names:tc:SAML:2.0:status:PartialLogout"

_AC_CLASSES: Final = "urn:oasis:names:tc:SAML:2.0:ac:classes:"
AC_PASSWORD_PROTECTED: Final = _AC_CLASSES + "PasswordProtectedTransport"
AC_UNSPECIFIED: Final = "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"
REFEDS_MFA: Final = "https://refeds.org/profile/mfa"

# XML-DSig algorithm URIs (RFC 6931) and what XmlSigner calls them.
SIG_ALGS: Final = {
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": ("rsa", "sha256"),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": ("rsa", "sha384"),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": ("rsa", "sha512"),
    "http://www.w3.org/2000/09/xmldsig#rsa-sha1": ("rsa", "sha1"),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256": ("ec", "sha256"),
}
SIG_ALG_URIS: Final = {value: key for key, value in SIG_ALGS.items()}
DIGEST_ALGS: Final = {
    "http://www.w3.org/2001/04/xmlenc#sha256": "sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384": "sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512": "sha512",
    "http://www.w3.org/2000/09/xmldsig#sha1": "sha1",
}


def q(ns: str, local: str) -> str:
    """Clark notation ``{ns}local`` as lxml wants it."""
    return f"{{{ns}}}{local}"
