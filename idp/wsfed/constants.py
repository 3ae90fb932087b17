"""WS-Federation 1.2, WS-Trust 2005/02 and SAML 1.1 / 2.0 names used in passive sign-in.

The passive requestor profile (WS-Federation 1.2 §13) answers with a
``t:RequestSecurityTokenResponse`` from WS-Trust February 2005, which is what ADFS, WIF and
Exchange speak; SAML 1.1 names come from the OASIS SAML 1.1 core (``saml:`` 1.0 namespace).
"""

from __future__ import annotations

from typing import Final

from idp.saml import constants as saml

# -- wire parameters (WS-Federation 1.2 §13.2) -----------------------------------------------
WA_SIGNIN: Final = "wsignin1.0"
WA_SIGNOUT: Final = "wsignout1.0"
WA_SIGNOUT_CLEANUP: Final = "wsignoutcleanup1.0"
ACTIONS: Final = (WA_SIGNIN, WA_SIGNOUT, WA_SIGNOUT_CLEANUP)

# -- namespaces -----------------------------------------------------------------------------
TRUST_NS: Final = "http://schemas.xmlsoap.org/ws/2005/02/trust"
WSP_NS: Final = "http://schemas.xmlsoap.org/ws/2004/09/policy"
WSA_NS: Final = "http://www.w3.org/2005/08/addressing"
WSU_NS: Final = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
SAML11_NS: Final = "urn:oasis:names:tc:SAML:1.0:assertion"
SAML2_NS: Final = saml.SAML_NS
MD_NS: Final = saml.MD_NS
FED_NS: Final = "http://docs.oasis-open.org/wsfed/federation/200706"
AUTH_NS: Final = "http://docs.oasis-open.org/wsfed/authorization/200706"
XSI_NS: Final = saml.XSI_NS
DS_NS: Final = saml.DS_NS

# -- WS-Trust values ------------------------------------------------------------------------
REQUEST_TYPE_ISSUE: Final = "http://schemas.xmlsoap.org/ws/2005/02/trust/Issue"
KEY_TYPE_NO_PROOF: Final = "http://schemas.xmlsoap.org/ws/2005/05/identity/NoProofKey"
#: the RSTR TokenType values ADFS sends (WIF also knows the WSS SAML token profile URIs)
TOKEN_TYPE_SAML11: Final = "urn:oasis:names:tc:SAML:1.0:assertion"
TOKEN_TYPE_SAML20: Final = "urn:oasis:names:tc:SAML:2.0:assertion"
#: the WSS SAML Token Profile 1.1 names, offered in metadata beside the ones above
_WSS_SAML_PROFILE: Final = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1"
TOKEN_PROFILE_SAML11: Final = f"{_WSS_SAML_PROFILE}#SAMLV1.1"
TOKEN_PROFILE_SAML20: Final = f"{_WSS_SAML_PROFILE}#SAMLV2.0"

# -- SAML 1.1 (core §2, §7.1) --------------------------------------------------------------
CM_BEARER_11: Final = "urn:oasis:names:tc:SAML:1.0:cm:bearer"
AM_UNSPECIFIED_11: Final = "urn:oasis:names:tc:SAML:1.0:am:unspecified"
# SAML 2.0 values are the SAML IdP's own (one definition each).
CM_BEARER_20: Final = saml.CM_BEARER
AC_UNSPECIFIED_20: Final = saml.AC_UNSPECIFIED
NAMEID_UNSPECIFIED: Final = saml.NAMEID_UNSPECIFIED
NAMEID_EMAIL: Final = saml.NAMEID_EMAIL
NAMEID_PERSISTENT: Final = saml.NAMEID_PERSISTENT
NAMEID_TRANSIENT: Final = saml.NAMEID_TRANSIENT
NAMEID_FORMATS: Final = saml.NAMEID_FORMATS

# -- claim types (the identity claims ADFS and Exchange use) -------------------------------
CLAIMS_2005: Final = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims"
CLAIMS_2008: Final = "http://schemas.microsoft.com/ws/2008/06/identity/claims"
CLAIM_UPN: Final = f"{CLAIMS_2005}/upn"
CLAIM_PRIMARYSID: Final = f"{CLAIMS_2008}/primarysid"
CLAIM_EMAIL: Final = f"{CLAIMS_2005}/emailaddress"
CLAIM_NAME: Final = f"{CLAIMS_2005}/name"
CLAIM_GIVEN_NAME: Final = f"{CLAIMS_2005}/givenname"
CLAIM_SURNAME: Final = f"{CLAIMS_2005}/surname"
CLAIM_NAME_IDENTIFIER: Final = f"{CLAIMS_2005}/nameidentifier"
CLAIM_GROUP: Final = "http://schemas.xmlsoap.org/claims/Group"
CLAIM_ROLE: Final = f"{CLAIMS_2008}/role"
CLAIM_WINDOWS_ACCOUNT_NAME: Final = f"{CLAIMS_2008}/windowsaccountname"
CLAIM_AUTHN_METHOD: Final = f"{CLAIMS_2008}/authenticationmethod"
CLAIM_AMR: Final = "http://schemas.microsoft.com/claims/authnmethodsreferences"
CLAIM_OBJECT_GUID: Final = "http://schemas.microsoft.com/identity/claims/objectidentifier"

#: short names accepted in YAML for the claim types above
CLAIM_ALIASES: Final = {
    "upn": CLAIM_UPN,
    "primarysid": CLAIM_PRIMARYSID,
    "email": CLAIM_EMAIL,
    "name": CLAIM_NAME,
    "given_name": CLAIM_GIVEN_NAME,
    "surname": CLAIM_SURNAME,
    "nameidentifier": CLAIM_NAME_IDENTIFIER,
    "group": CLAIM_GROUP,
    "role": CLAIM_ROLE,
    "windowsaccountname": CLAIM_WINDOWS_ACCOUNT_NAME,
    "authnmethodsreferences": CLAIM_AMR,
    "objectidentifier": CLAIM_OBJECT_GUID,
}
#: display names for the claim types offered in federation metadata
CLAIM_DISPLAY_NAMES: Final = {
    CLAIM_UPN: "UPN",
    CLAIM_PRIMARYSID: "Primary SID",
    CLAIM_EMAIL: "E-Mail Address",
    CLAIM_NAME: "Name",
    CLAIM_GIVEN_NAME: "Given Name",
    CLAIM_SURNAME: "Surname",
    CLAIM_NAME_IDENTIFIER: "Name ID",
    CLAIM_GROUP: "Group",
    CLAIM_ROLE: "Role",
    CLAIM_WINDOWS_ACCOUNT_NAME: "Windows account name",
    CLAIM_AMR: "Authentication Methods References",
    CLAIM_OBJECT_GUID: "Object identifier",
}


def q(ns: str, local: str) -> str:
    """Clark notation ``{ns}local`` as lxml wants it."""
    return f"{{{ns}}}{local}"
