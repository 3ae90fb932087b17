"""Per-SP presets: the defaults a profile gives an SP before its YAML overrides them.

Facts come from the SPs' own documentation as summarised in DESIGN.md ("Protocol facts").
Attribute sources are described in :mod:`idp.saml.attributes`.
"""

from __future__ import annotations

from dataclasses import dataclass

from idp.saml import constants as c

PROFILES = (
    "github",
    "github_enterprise",
    "google_workspace",
    "okta",
    "gitlab",
    "cisco_asa",
    "citrix_gateway",
    "citrix_cloud",
    "fortinet",
    "adfs",
    "oracle_oam",
    "generic",
)

#: Claim types AD FS reads as attribute names (NameFormat uri).
_CLAIMS = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"


@dataclass(frozen=True)
class AttributePreset:
    source: str
    name: str
    name_format: str = c.ATTRNAME_BASIC
    required: bool = False


@dataclass(frozen=True)
class ProfilePreset:
    name_id_format: str
    name_id_source: str
    sign_response: bool
    sign_assertion: bool
    attributes: tuple[AttributePreset, ...]
    audience: str | None = None
    want_authn_requests_signed: bool = False
    allow_idp_initiated: bool = False


_GITHUB_ATTRIBUTES = (
    AttributePreset("username", "username"),
    AttributePreset("full_name", "full_name"),
    AttributePreset("email", "emails"),
    # GitHub has no directory of its own for these: an admin sets them per employee with
    # `hideez-idp employee update NAME --external-id github_administrator=true` and so on.
    AttributePreset("external_id:github_public_keys", "public_keys"),
    AttributePreset("external_id:github_gpg_keys", "gpg_keys"),
    AttributePreset("external_id:github_administrator", "administrator"),
    AttributePreset("session_not_on_or_after", "SessionNotOnOrAfter"),
)

PRESETS: dict[str, ProfilePreset] = {
    # GitHub org/enterprise SSO: persistent NameID, POST ACS, attribute names as GitHub reads
    # them; GitHub accepts a signed response or assertion, we sign both.
    "github": ProfilePreset(c.NAMEID_PERSISTENT, "pairwise", True, True, _GITHUB_ATTRIBUTES),
    "github_enterprise": ProfilePreset(
        c.NAMEID_PERSISTENT, "pairwise", True, True, _GITHUB_ATTRIBUTES
    ),
    # Google Workspace: NameID is the primary email; audience google.com (or
    # google.com/a/DOMAIN, set per SP); no attributes needed.
    "google_workspace": ProfilePreset(
        c.NAMEID_EMAIL, "email", True, True, (), audience="google.com"
    ),
    # Okta as SP (inbound SAML IdP): email NameID, SHA-256, names Okta maps by default.
    "okta": ProfilePreset(
        c.NAMEID_EMAIL,
        "email",
        True,
        True,
        (
            AttributePreset("email", "email"),
            AttributePreset("first_name", "firstName"),
            AttributePreset("last_name", "lastName"),
        ),
    ),
    # GitLab (omniauth-saml): persistent NameID, response signed, email attribute required.
    "gitlab": ProfilePreset(
        c.NAMEID_PERSISTENT,
        "pairwise",
        True,
        True,
        (
            AttributePreset("email", "email", required=True),
            AttributePreset("first_name", "first_name"),
            AttributePreset("last_name", "last_name"),
            AttributePreset("full_name", "name"),
            AttributePreset("groups", "groups"),
        ),
    ),
    # Cisco ASA (AnyConnect / Secure Client): the NameID is the VPN user name; the ASA
    # sends unsigned AuthnRequests (`no signature`) and checks the assertion signature.
    "cisco_asa": ProfilePreset(
        c.NAMEID_UNSPECIFIED,
        "username",
        True,
        True,
        (AttributePreset("email", "email"), AttributePreset("groups", "memberOf")),
    ),
    # NetScaler (Citrix ADC) gateway samlAction: -samlUserField reads the NameID (the UPN-like
    # email, which StoreFront / FAS map to the AD account); -groupNameField reads "groups".
    "citrix_gateway": ProfilePreset(
        c.NAMEID_EMAIL,
        "email",
        True,
        True,
        (
            AttributePreset("upn", "upn"),
            AttributePreset("email", "email"),
            AttributePreset("full_name", "displayName"),
            AttributePreset("groups", "groups"),
        ),
    ),
    # Citrix Cloud SAML connection: the four cip_* attributes, exact names, are required to
    # map the sign-in to the AD account behind the Cloud Connectors.
    "citrix_cloud": ProfilePreset(
        c.NAMEID_EMAIL,
        "email",
        True,
        True,
        (
            AttributePreset("upn", "cip_upn", required=True),
            AttributePreset("email", "cip_email", required=True),
            AttributePreset("external_id:ad_object_sid", "cip_sid", required=True),
            AttributePreset("external_id:ad_object_guid", "cip_oid", required=True),
            AttributePreset("full_name", "displayName"),
            AttributePreset("first_name", "firstName"),
            AttributePreset("last_name", "lastName"),
        ),
    ),
    # FortiGate SSL-VPN (`config user saml`) and FortiAuthenticator's remote SAML server: the
    # user and group come from the attributes named by `set user-name` / `set group-name`.
    "fortinet": ProfilePreset(
        c.NAMEID_UNSPECIFIED,
        "username",
        True,
        True,
        (AttributePreset("username", "username"), AttributePreset("groups", "group")),
    ),
    # AD FS with this IdP as a claims-provider trust: attribute names are claim types, so its
    # pass-through rules and the Exchange relying-party trusts read upn and primarysid as is.
    "adfs": ProfilePreset(
        c.NAMEID_EMAIL,
        "email",
        True,
        True,
        (
            AttributePreset("upn", _CLAIMS + "upn", c.ATTRNAME_URI, required=True),
            AttributePreset(
                "external_id:ad_object_sid",
                "http://schemas.microsoft.com/ws/2008/06/identity/claims/primarysid",
                c.ATTRNAME_URI,
                required=True,
            ),
            AttributePreset("email", _CLAIMS + "emailaddress", c.ATTRNAME_URI),
            AttributePreset("full_name", _CLAIMS + "name", c.ATTRNAME_URI),
            AttributePreset("first_name", _CLAIMS + "givenname", c.ATTRNAME_URI),
            AttributePreset("last_name", _CLAIMS + "surname", c.ATTRNAME_URI),
            AttributePreset("groups", "http://schemas.xmlsoap.org/claims/Group", c.ATTRNAME_URI),
        ),
    ),
    # Oracle Access Manager as SP (Identity Provider Partner): "Map assertion to user" via the
    # NameID against the identity store's mail attribute; mail/uid for attribute mapping.
    "oracle_oam": ProfilePreset(
        c.NAMEID_EMAIL,
        "email",
        True,
        True,
        (AttributePreset("email", "mail"), AttributePreset("username", "uid")),
    ),
    "generic": ProfilePreset(
        c.NAMEID_PERSISTENT,
        "pairwise",
        False,
        True,
        (AttributePreset("email", "email"), AttributePreset("full_name", "name")),
    ),
}
