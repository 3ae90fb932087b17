"""Per-SP presets: the defaults a profile gives an SP before its YAML overrides them.

Facts come from the SPs' own documentation as summarised in DESIGN.md ("Protocol facts").
Attribute sources are described in :mod:`idp.saml.attributes`.
"""

from __future__ import annotations

from dataclasses import dataclass

from idp.saml import constants as c

PROFILES = ("github", "github_enterprise", "google_workspace", "okta", "gitlab", "generic")


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
    AttributePreset("extra:public_keys", "public_keys"),
    AttributePreset("extra:gpg_keys", "gpg_keys"),
    AttributePreset("extra:administrator", "administrator"),
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
    "generic": ProfilePreset(
        c.NAMEID_PERSISTENT,
        "pairwise",
        False,
        True,
        (AttributePreset("email", "email"), AttributePreset("full_name", "name")),
    ),
}
