"""An independent WS-Fed token verifier for the tests, built on signxml (not our signing code).

It checks what a relying party (WIF, Exchange) checks: the signature with *our certificate
only*; that the signed reference is the very assertion it reads (no signature wrapping);
Audience and AppliesTo equal to the realm; the lifetimes; and it reads the claims only from
signxml's ``signed_xml``. :func:`xmlsec1_verify` checks the same document with the ``xmlsec1``
program.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lxml import etree
from signxml import XMLVerifier

TRUST = "http://schemas.xmlsoap.org/ws/2005/02/trust"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
NS = {
    "t": TRUST,
    "wsu": WSU,
    "wsp": "http://schemas.xmlsoap.org/ws/2004/09/policy",
    "wsa": "http://www.w3.org/2005/08/addressing",
    "s1": "urn:oasis:names:tc:SAML:1.0:assertion",
    "s2": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


class TokenRejected(AssertionError):
    pass


@dataclass(frozen=True)
class VerifiedToken:
    version: str  # "1.1" or "2.0"
    assertion: etree._Element  # signxml's signed_xml
    issuer: str
    audience: str
    not_before: dt.datetime
    not_on_or_after: dt.datetime
    claims: dict[str, list[str]]
    name_identifier: str | None
    authn_method: str


def _time(value: str | None) -> dt.datetime:
    if value is None:
        raise TokenRejected("missing time")
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _one(root: etree._Element, path: str) -> etree._Element:
    found = root.xpath(path, namespaces=NS)
    if len(found) != 1:
        raise TokenRejected(f"expected exactly one {path}, found {len(found)}")
    return found[0]


def verify_wresult(
    wresult: str | bytes, *, cert_pem: bytes, realm: str, issuer: str, now: dt.datetime
) -> VerifiedToken:
    data = wresult.encode() if isinstance(wresult, str) else wresult
    root = etree.fromstring(data, parser=_PARSER)
    if root.tag != f"{{{TRUST}}}RequestSecurityTokenResponse":
        raise TokenRejected(f"not an RSTR: {root.tag}")
    if _one(root, "wsp:AppliesTo/wsa:EndpointReference/wsa:Address").text != realm:
        raise TokenRejected("AppliesTo is not the realm")
    created = _time(_one(root, "t:Lifetime/wsu:Created").text)
    expires = _time(_one(root, "t:Lifetime/wsu:Expires").text)
    if not created <= now < expires:
        raise TokenRejected("RSTR lifetime does not cover now")
    token = _one(root, "t:RequestedSecurityToken")
    if len(token) != 1:
        raise TokenRejected("RequestedSecurityToken must hold exactly one assertion")
    read = token[0]
    saml11 = read.tag == f"{{{NS['s1']}}}Assertion"
    id_attr = "AssertionID" if saml11 else "ID"
    if len(root.xpath(f"//*[@{id_attr}=$v]", v=read.get(id_attr))) != 1:
        raise TokenRejected("assertion id is not unique")
    result = XMLVerifier().verify(data, x509_cert=cert_pem.decode(), id_attribute=id_attr)
    signed = result.signed_xml  # type: ignore[union-attr]
    if signed.tag != read.tag or signed.get(id_attr) != read.get(id_attr):
        raise TokenRejected("the signed reference is not the assertion that is read")
    version = "1.1" if saml11 else "2.0"
    return (_read11 if saml11 else _read20)(signed, version, realm, issuer, now)


def _read11(
    a: etree._Element, version: str, realm: str, issuer: str, now: dt.datetime
) -> VerifiedToken:
    if (a.get("MajorVersion"), a.get("MinorVersion")) != ("1", "1"):
        raise TokenRejected("not SAML 1.1")
    cond = _one(a, "s1:Conditions")
    audience = _one(cond, "s1:AudienceRestrictionCondition/s1:Audience").text or ""
    claims: dict[str, list[str]] = {}
    for attr in a.xpath("s1:AttributeStatement/s1:Attribute", namespaces=NS):
        name = attr.get("AttributeNamespace") + "/" + attr.get("AttributeName")
        claims[name] = [v.text for v in attr.xpath("s1:AttributeValue", namespaces=NS)]
    authn = a.xpath("s1:AuthenticationStatement", namespaces=NS)
    if len(authn) != 1:
        raise TokenRejected("SAML 1.1 token needs exactly one AuthenticationStatement")
    ids = a.xpath(".//s1:NameIdentifier/text()", namespaces=NS)
    return _checked(
        VerifiedToken(
            version,
            a,
            a.get("Issuer") or "",
            audience,
            _time(cond.get("NotBefore")),
            _time(cond.get("NotOnOrAfter")),
            claims,
            ids[0] if ids else None,
            authn[0].get("AuthenticationMethod") or "",
        ),
        realm,
        issuer,
        now,
    )


def _read20(
    a: etree._Element, version: str, realm: str, issuer: str, now: dt.datetime
) -> VerifiedToken:
    cond = _one(a, "s2:Conditions")
    audience = _one(cond, "s2:AudienceRestriction/s2:Audience").text or ""
    claims: dict[str, list[str]] = {}
    for attr in a.xpath("s2:AttributeStatement/s2:Attribute", namespaces=NS):
        claims[attr.get("Name")] = [v.text for v in attr.xpath("s2:AttributeValue", namespaces=NS)]
    confirmation = _one(a, "s2:Subject/s2:SubjectConfirmation/s2:SubjectConfirmationData")
    if _time(confirmation.get("NotOnOrAfter")) <= now:
        raise TokenRejected("subject confirmation expired")
    ids = a.xpath("s2:Subject/s2:NameID/text()", namespaces=NS)
    return _checked(
        VerifiedToken(
            version,
            a,
            _one(a, "s2:Issuer").text or "",
            audience,
            _time(cond.get("NotBefore")),
            _time(cond.get("NotOnOrAfter")),
            claims,
            ids[0] if ids else None,
            _one(a, "s2:AuthnStatement/s2:AuthnContext/s2:AuthnContextClassRef").text or "",
        ),
        realm,
        issuer,
        now,
    )


def _checked(token: VerifiedToken, realm: str, issuer: str, now: dt.datetime) -> VerifiedToken:
    if token.audience != realm:
        raise TokenRejected(f"audience {token.audience!r} is not the realm {realm!r}")
    if token.issuer != issuer:
        raise TokenRejected(f"issuer {token.issuer!r} is not {issuer!r}")
    if not token.not_before <= now < token.not_on_or_after:
        raise TokenRejected("the assertion is not valid now")
    return token


def xmlsec1_verify(wresult: str | bytes, *, cert_path: Path, saml11: bool) -> None:
    """Verify with the xmlsec1 program; raises TokenRejected with its output on failure."""
    data = wresult.encode() if isinstance(wresult, str) else wresult
    id_attr = (
        "--id-attr:AssertionID urn:oasis:names:tc:SAML:1.0:assertion:Assertion"
        if saml11
        else "--id-attr:ID urn:oasis:names:tc:SAML:2.0:assertion:Assertion"
    )
    with tempfile.NamedTemporaryFile(suffix=".xml") as handle:
        handle.write(data)
        handle.flush()
        proc = subprocess.run(
            [
                "xmlsec1",
                "--verify",
                "--enabled-reference-uris",
                "same-doc",
                "--pubkey-cert-pem",
                str(cert_path),
                "--enabled-key-data",
                "rsa,key-name",
                *id_attr.split(" ", 1),
                handle.name,
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    if proc.returncode != 0:
        raise TokenRejected(f"xmlsec1 refused the token: {proc.stderr.strip()}")
