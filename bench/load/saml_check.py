"""What the SP checks in a SAML Response, on one parse: the Response's and the Assertion's
enveloped signatures (xmlsec, through the same wrapping-proof check the IdP applies to what SPs
send it: each signature a direct child of its element, referencing that element's unique ID,
SHA-256), success status, Destination and InResponseTo, issuer, audience, the validity window
and the bearer confirmation (recipient, InResponseTo, NotOnOrAfter), and a NameID.

python3-saml checks the same but parses and walks the document several times and validates it
against the schema on each Response, which made it the load generator's largest cost; its
strict check of the IdP's answers is kept in tests/e2e (the SSO flow tests)."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from typing import Any

from lxml import etree

from idp.saml import constants as c
from idp.saml.bindings import parse_xml
from idp.saml.errors import SamlError
from idp.saml.signing import verify_enveloped

SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
#: the clock difference accepted either way (python3-saml accepts 300 s)
DRIFT = dt.timedelta(seconds=60)
_NS = {"samlp": c.SAMLP_NS, "saml": c.SAML_NS}


class ResponseRejected(Exception):
    """The Response is not what the SP accepts; the message says what was expected."""


@dataclass(frozen=True)
class SpView:
    """What the SP knows: its entity id and ACS URL, the IdP's entity id and certificate."""

    entity_id: str
    acs_url: str
    idp_entity_id: str
    idp_cert_pem: bytes

    @classmethod
    def of(cls, sp_settings: dict[str, Any]) -> SpView:
        # python3-saml rewrites the settings it is given into PEM form: take the base64 only
        text = sp_settings["idp"]["x509cert"]
        body = "".join(line.strip() for line in text.splitlines() if "-----" not in line)
        lines = [body[i : i + 64] for i in range(0, len(body), 64)]
        pem = "\n".join(["-----BEGIN CERTIFICATE-----", *lines, "-----END CERTIFICATE-----", ""])
        sp = sp_settings["sp"]
        acs = sp["assertionConsumerService"]["url"]
        return cls(sp["entityId"], acs, sp_settings["idp"]["entityId"], pem.encode())


def check_response(sp: SpView, saml_response: str, request_id: str) -> None:
    """Raise ResponseRejected unless ``saml_response`` (base64, as posted) is a signed,
    successful answer to ``request_id`` for ``sp``, valid now."""
    try:
        root = parse_xml(base64.b64decode(saml_response), expected=(f"{{{c.SAMLP_NS}}}Response",))
        if not verify_enveloped(root, certs=(sp.idp_cert_pem,), allow_sha1=False):
            raise ResponseRejected("expected a signed Response, got an unsigned one")
        assertions = root.findall("saml:Assertion", _NS)
        if len(assertions) != 1 or root.find("saml:EncryptedAssertion", _NS) is not None:
            raise ResponseRejected(f"expected one Assertion, got {len(assertions)}")
        if not verify_enveloped(assertions[0], certs=(sp.idp_cert_pem,), allow_sha1=False):
            raise ResponseRejected("expected a signed Assertion, got an unsigned one")
    except SamlError as exc:
        raise ResponseRejected(str(exc)) from None
    _expect(root, "samlp:Status/samlp:StatusCode", "Value", SUCCESS)
    for name, value in (("Destination", sp.acs_url), ("InResponseTo", request_id)):
        if root.get(name) != value:
            raise ResponseRejected(f"expected {name} {value!r}, got {root.get(name)!r}")
    _check_assertion(sp, assertions[0], request_id, dt.datetime.now(dt.UTC))


def _check_assertion(sp: SpView, assertion: etree._Element, request_id: str,
                     now: dt.datetime) -> None:  # fmt: skip
    if assertion.findtext("saml:Issuer", namespaces=_NS) != sp.idp_entity_id:
        raise ResponseRejected(f"expected the issuer {sp.idp_entity_id!r}")
    audiences = assertion.findall("saml:Conditions/saml:AudienceRestriction/saml:Audience", _NS)
    if sp.entity_id not in [a.text for a in audiences]:
        raise ResponseRejected(f"expected the audience {sp.entity_id!r}")
    conditions = assertion.find("saml:Conditions", _NS)
    assert conditions is not None  # the audience was found in it
    not_before, not_after = _at(conditions, "NotBefore"), _at(conditions, "NotOnOrAfter")
    if (not_before and now < not_before - DRIFT) or (not_after and now >= not_after + DRIFT):
        raise ResponseRejected(f"expected {now:%H:%M:%S} within the assertion's Conditions")
    confirmation = _expect(assertion, "saml:Subject/saml:SubjectConfirmation", "Method", BEARER)
    data = confirmation.find("saml:SubjectConfirmationData", _NS)
    if (
        data is None
        or data.get("Recipient") != sp.acs_url
        or data.get("InResponseTo") != request_id
    ):
        raise ResponseRejected("expected a bearer confirmation for this ACS and request")
    expires = _at(data, "NotOnOrAfter")
    if expires is None or now >= expires + DRIFT:
        raise ResponseRejected(f"expected a bearer confirmation valid at {now:%H:%M:%S}")
    if not assertion.findtext("saml:Subject/saml:NameID", namespaces=_NS):
        raise ResponseRejected("expected a NameID")


def _expect(parent: etree._Element, path: str, attribute: str, value: str) -> etree._Element:
    found = parent.find(path, _NS)
    got = None if found is None else found.get(attribute)
    if found is None or got != value:
        raise ResponseRejected(f"expected {path} {attribute}={value!r}, got {got!r}")
    return found


def _at(element: etree._Element, attribute: str) -> dt.datetime | None:
    text = element.get(attribute)
    return None if text is None else dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
