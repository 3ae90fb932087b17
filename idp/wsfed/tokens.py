"""The sign-in answer: a signed SAML 1.1 or SAML 2.0 assertion inside a WS-Trust RSTR.

:func:`build_signin_response` is the one function both shells call (the Flask IdP and the
SATOSA frontend). It releases the relying party's claims, builds the assertion, signs it
enveloped (exclusive C14N, the RP's algorithm, the key loaded once at start) and wraps it in a
``t:RequestSecurityTokenResponse`` (WS-Trust 2005/02 §3.2 as ADFS sends it): Lifetime,
AppliesTo = realm, RequestedSecurityToken, TokenType, RequestType Issue, KeyType NoProofKey.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from lxml import etree

from idp.directory.model import Employee
from idp.sessions import AuthContext
from idp.subject import Subject
from idp.wsfed import constants as c
from idp.wsfed.claims import Claim, release, source_values
from idp.wsfed.errors import ClaimUnavailable, TokenBuildError
from idp.wsfed.model import NameIdentifierRule, RelyingParty, TokenType
from idp.wsfed.requests import SignInRequest
from idp.xmlsig import XmlSigner

q = c.q
_SAML11 = {"saml": c.SAML11_NS}
_SAML20 = {"saml": c.SAML2_NS}
_SUBJECT_CONFIRMATION_LIFETIME = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class SignInResponse:
    """What the shell posts to ``action``: ``wa``, ``wresult`` and the echoed ``wctx``."""

    action: str
    wresult: str
    wctx: str | None
    assertion_id: str
    token_type: TokenType
    created: dt.datetime
    expires: dt.datetime

    @property
    def fields(self) -> tuple[tuple[str, str], ...]:
        base = (("wa", c.WA_SIGNIN), ("wresult", self.wresult))
        return base if self.wctx is None else (*base, ("wctx", self.wctx))


@dataclass(frozen=True)
class TokenContent:
    """Everything an assertion says, independent of the SAML version that says it."""

    assertion_id: str
    issuer: str
    audience: str
    recipient: str
    created: dt.datetime
    expires: dt.datetime
    auth_time: dt.datetime
    authn_context_class_ref: str
    authentication_method: str
    session_index: str
    name_identifier: tuple[str, str] | None  # (format, value)
    claims: tuple[Claim, ...]


def build_signin_response(
    *,
    request: SignInRequest,
    employee: Subject | Employee,
    context: AuthContext,
    authn_context_class_ref: str,
    issuer: str,
    lifetime: dt.timedelta,
    signer: XmlSigner,
    now: dt.datetime,
) -> SignInResponse:
    """Build and sign the answer to ``request`` for a session that satisfied the policy.

    ``authn_context_class_ref`` is what the policy decided to claim
    (:attr:`idp.policy.Satisfied.authn_context_class_ref`). Times are passed in, never read.
    """
    if now.tzinfo is None:
        raise TokenBuildError("naive datetime; token times must be timezone-aware")
    rp = request.relying_party
    token = TokenContent(
        assertion_id="_" + secrets.token_hex(16),
        issuer=issuer,
        audience=request.realm,
        recipient=request.reply_url,
        created=now,
        expires=now + lifetime,
        auth_time=context.auth_time,
        authn_context_class_ref=authn_context_class_ref,
        authentication_method=_authentication_method(rp, authn_context_class_ref),
        session_index="_" + hashlib.sha256(context.session_id.encode()).hexdigest()[:32],
        name_identifier=_name_identifier(rp, employee=employee, context=context),
        claims=release(rp, employee=employee, context=context),
    )
    if rp.token_type is TokenType.SAML11:
        assertion = saml11_assertion(token)
        signer.sign(
            assertion,
            id_attribute="AssertionID",
            insert_after=q(c.SAML11_NS, "AuthenticationStatement"),
        )
    else:
        assertion = saml20_assertion(token)
        signer.sign(assertion, id_attribute="ID", insert_after=q(c.SAML2_NS, "Issuer"))
    rstr = _rstr(assertion, token, rp.token_type)
    return SignInResponse(
        action=request.reply_url,
        wresult=etree.tostring(rstr, encoding="unicode"),
        wctx=request.context,
        assertion_id=token.assertion_id,
        token_type=rp.token_type,
        created=token.created,
        expires=token.expires,
    )


def saml11_assertion(token: TokenContent) -> etree._Element:
    """A SAML 1.1 assertion as Exchange and WIF read it (SAML 1.1 core §2.3.2).

    Children in schema order: Conditions, AttributeStatement, one AuthenticationStatement; the
    signature is appended after the last statement by the signer.
    """
    assertion = etree.Element(q(c.SAML11_NS, "Assertion"), nsmap=_SAML11)
    assertion.set("MajorVersion", "1")
    assertion.set("MinorVersion", "1")
    assertion.set("AssertionID", token.assertion_id)
    assertion.set("Issuer", token.issuer)
    assertion.set("IssueInstant", instant(token.created))
    conditions = _sub11(
        assertion,
        "Conditions",
        NotBefore=instant(token.created),
        NotOnOrAfter=instant(token.expires),
    )
    restriction = _sub11(conditions, "AudienceRestrictionCondition")
    _sub11(restriction, "Audience").text = token.audience
    if token.claims:
        statement = _sub11(assertion, "AttributeStatement")
        _subject11(statement, token)
        for claim in token.claims:
            namespace, name = claim.rule.saml11_name
            attribute = _sub11(
                statement, "Attribute", AttributeName=name, AttributeNamespace=namespace
            )
            for value in claim.values:
                _sub11(attribute, "AttributeValue").text = value
    authn = _sub11(
        assertion,
        "AuthenticationStatement",
        AuthenticationMethod=token.authentication_method,
        AuthenticationInstant=instant(token.auth_time),
    )
    _subject11(authn, token)
    return assertion


def saml20_assertion(token: TokenContent) -> etree._Element:
    """A SAML 2.0 assertion (SAML core §2.3.3) with a bearer subject and the RP as audience."""
    assertion = etree.Element(q(c.SAML2_NS, "Assertion"), nsmap=_SAML20)
    assertion.set("ID", token.assertion_id)
    assertion.set("IssueInstant", instant(token.created))
    assertion.set("Version", "2.0")
    _sub20(assertion, "Issuer").text = token.issuer
    subject = _sub20(assertion, "Subject")
    if token.name_identifier is not None:
        _sub20(subject, "NameID", Format=token.name_identifier[0]).text = token.name_identifier[1]
    confirmation = _sub20(subject, "SubjectConfirmation", Method=c.CM_BEARER_20)
    _sub20(
        confirmation,
        "SubjectConfirmationData",
        NotOnOrAfter=instant(min(token.expires, token.created + _SUBJECT_CONFIRMATION_LIFETIME)),
        Recipient=token.recipient,
    )
    conditions = _sub20(
        assertion,
        "Conditions",
        NotBefore=instant(token.created),
        NotOnOrAfter=instant(token.expires),
    )
    _sub20(_sub20(conditions, "AudienceRestriction"), "Audience").text = token.audience
    if token.claims:
        statement = _sub20(assertion, "AttributeStatement")
        for claim in token.claims:
            attribute = _sub20(statement, "Attribute", Name=claim.rule.claim_type)
            for value in claim.values:
                _sub20(attribute, "AttributeValue").text = value
    authn = _sub20(
        assertion,
        "AuthnStatement",
        AuthnInstant=instant(token.auth_time),
        SessionIndex=token.session_index,
    )
    _sub20(
        _sub20(authn, "AuthnContext"), "AuthnContextClassRef"
    ).text = token.authn_context_class_ref
    return assertion


def _rstr(assertion: etree._Element, token: TokenContent, token_type: TokenType) -> etree._Element:
    rstr = etree.Element(q(c.TRUST_NS, "RequestSecurityTokenResponse"), nsmap={"t": c.TRUST_NS})
    lifetime = etree.SubElement(rstr, q(c.TRUST_NS, "Lifetime"))
    wsu = {"wsu": c.WSU_NS}
    etree.SubElement(lifetime, q(c.WSU_NS, "Created"), nsmap=wsu).text = instant(token.created)
    etree.SubElement(lifetime, q(c.WSU_NS, "Expires"), nsmap=wsu).text = instant(token.expires)
    applies = etree.SubElement(rstr, q(c.WSP_NS, "AppliesTo"), nsmap={"wsp": c.WSP_NS})
    ref = etree.SubElement(applies, q(c.WSA_NS, "EndpointReference"), nsmap={"wsa": c.WSA_NS})
    etree.SubElement(ref, q(c.WSA_NS, "Address")).text = token.audience
    etree.SubElement(rstr, q(c.TRUST_NS, "RequestedSecurityToken")).append(assertion)
    etree.SubElement(rstr, q(c.TRUST_NS, "TokenType")).text = token_type.uri
    etree.SubElement(rstr, q(c.TRUST_NS, "RequestType")).text = c.REQUEST_TYPE_ISSUE
    etree.SubElement(rstr, q(c.TRUST_NS, "KeyType")).text = c.KEY_TYPE_NO_PROOF
    return rstr


def _subject11(statement: etree._Element, token: TokenContent) -> None:
    subject = _sub11(statement, "Subject")
    if token.name_identifier is not None:
        fmt, value = token.name_identifier
        _sub11(subject, "NameIdentifier", Format=fmt).text = value
    confirmation = _sub11(subject, "SubjectConfirmation")
    _sub11(confirmation, "ConfirmationMethod").text = c.CM_BEARER_11


def _sub11(parent: etree._Element, local: str, **attrs: str) -> etree._Element:
    return etree.SubElement(parent, q(c.SAML11_NS, local), attrs)


def _sub20(parent: etree._Element, local: str, **attrs: str) -> etree._Element:
    return etree.SubElement(parent, q(c.SAML2_NS, local), attrs)


def _name_identifier(
    rp: RelyingParty, *, employee: Subject | Employee, context: AuthContext
) -> tuple[str, str] | None:
    rule: NameIdentifierRule | None = rp.name_identifier
    if rule is None:
        return None
    if rule.format == c.NAMEID_TRANSIENT:
        return rule.format, "_" + secrets.token_hex(16)
    values = source_values(rule.source, employee=employee, context=context)
    if not values:
        raise ClaimUnavailable(
            f"{rp.name} takes the NameIdentifier from {rule.source!r}, but employee "
            f"{employee.username!r} has no value for it"
        )
    return rule.format, values[0]


def _authentication_method(rp: RelyingParty, class_ref: str) -> str:
    # SAML 1.1 has its own "unspecified" URI (core §7.1); any other context class is a URI
    # that WIF copies into the authenticationmethod claim as it stands.
    if rp.authentication_method is not None:
        return rp.authentication_method
    return c.AM_UNSPECIFIED_11 if class_ref == c.AC_UNSPECIFIED_20 else class_ref


def instant(moment: dt.datetime) -> str:
    """xs:dateTime in UTC with milliseconds, the form ADFS writes."""
    if moment.tzinfo is None:
        raise TokenBuildError("naive datetime; token times must be timezone-aware")
    utc = moment.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
