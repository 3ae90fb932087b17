"""Federation metadata: verifying a signed aggregate and turning its SP entities into SPs.

Sans-IO: the caller fetches the bytes (:mod:`idp.saml.federation_fetch`) and passes the
federation's signing certificates and the time. What comes out is frozen: the SP entities
the filter selected, those refused (with the reason) and the aggregate's ``validUntil`` /
``cacheDuration`` (SAML metadata §2.3.1). Each ``EntityDescriptor`` is read by the same
parser as a local SP's metadata file (:func:`idp.saml.sp_metadata.parse_sp_metadata`).

Entity selection uses the metadata extensions federations publish: ``mdrpi:RegistrationInfo``
(which federation registered the entity) and ``mdattr:EntityAttributes`` with the
``http://macedir.org/entity-category`` attribute; both are inherited from an enclosing
``EntitiesDescriptor`` as their specifications say.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import xmlsec
from lxml import etree

from idp.config.saml_model import (
    Endpoint,
    FederationDefaults,
    MetadataFilter,
    ServiceProvider,
)
from idp.saml import constants as c
from idp.saml.errors import SamlError, SignatureInvalid
from idp.saml.signing import _accepted_sig_alg, _check_transforms
from idp.saml.sp_metadata import MetadataEndpoint, SpMetadata, parse_sp_metadata

MDRPI_NS = "urn:oasis:names:tc:SAML:metadata:rpi"
MDATTR_NS = "urn:oasis:names:tc:SAML:metadata:attribute"
MDUI_NS = "urn:oasis:names:tc:SAML:metadata:ui"
ENTITY_CATEGORY = "http://macedir.org/entity-category"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_MD = f"{{{c.MD_NS}}}"
_DS = f"{{{c.DS_NS}}}"
_ENTITIES = f"{_MD}EntitiesDescriptor"
_ENTITY = f"{_MD}EntityDescriptor"


class MetadataRejected(SamlError):
    """Federation metadata that cannot be used; the last good copy stays in service."""

    error = "saml_metadata_rejected"
    status = 502


class MetadataFetchFailed(MetadataRejected):
    error = "saml_metadata_fetch_failed"


class MetadataTooLarge(MetadataRejected):
    error = "saml_metadata_too_large"


class MetadataSignatureInvalid(MetadataRejected):
    """Unsigned, signed by another key, or signed in a way that may not cover what we read."""

    error = "saml_metadata_signature_invalid"


class MetadataExpired(MetadataRejected):
    """``validUntil`` is in the past (or missing where it is required)."""

    error = "saml_metadata_expired"


@dataclass(frozen=True)
class FederatedEntity:
    metadata: SpMetadata
    registration_authority: str | None
    entity_categories: frozenset[str]
    display_name: str | None
    valid_until: dt.datetime | None

    @property
    def entity_id(self) -> str:
        return self.metadata.entity_id


@dataclass(frozen=True)
class SkippedEntity:
    entity_id: str
    reason: str


@dataclass(frozen=True)
class VerifiedMetadata:
    """The verified document: selected SP entities, refused ones, and its validity."""

    entities: tuple[FederatedEntity, ...]
    skipped: tuple[SkippedEntity, ...]
    #: entities that are no SP or that the filter did not select
    not_selected: int
    valid_until: dt.datetime | None
    cache_duration: dt.timedelta | None


def metadata_url_allowed(url: str) -> bool:
    """https anywhere; plain http only to a loopback address (tests, a local MDQ cache)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return True
    if parts.scheme != "http" or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def verify_metadata(
    *,
    xml: bytes,
    expected_signing_certs: tuple[bytes, ...],
    now: dt.datetime,
    max_bytes: int,
    require_valid_until: bool,
    selection: MetadataFilter,
    what: str,
) -> VerifiedMetadata:
    """Check size, XML hygiene, the signature on the root and ``validUntil``; then read every
    SP entity (an ``EntitiesDescriptor`` aggregate or a single ``EntityDescriptor``).

    ``what`` names the document in error descriptions (the aggregate's name, the MDQ URL).
    """
    if len(xml) > max_bytes:
        raise MetadataTooLarge(f"{what}: {len(xml)} bytes; the limit is {max_bytes}")
    root = _parse_document(xml, what=what)
    _verify_root_signature(root, certs=expected_signing_certs, what=what)
    valid_until = _instant(root.get("validUntil"), what=what)
    if valid_until is None and require_valid_until:
        raise MetadataExpired(f"{what}: no validUntil; signed metadata must say when it expires")
    if valid_until is not None and valid_until <= now:
        raise MetadataExpired(
            f"{what}: validUntil {valid_until.isoformat()} is past (now {now.isoformat()})"
        )
    walk = _Walk(now=now, selection=selection)
    walk.visit(root, _Inherited(valid_until, None, frozenset()))
    return VerifiedMetadata(
        entities=tuple(walk.entities),
        skipped=tuple(walk.skipped),
        not_selected=walk.not_selected,
        valid_until=valid_until,
        cache_duration=parse_duration(root.get("cacheDuration"), what=what),
    )


def selected(entity: FederatedEntity, selection: MetadataFilter) -> bool:
    if selection.entity_ids and entity.entity_id not in selection.entity_ids:
        return False
    if (
        selection.registration_authorities
        and entity.registration_authority not in selection.registration_authorities
    ):
        return False
    return not (
        selection.entity_categories and not (selection.entity_categories & entity.entity_categories)
    )


def service_provider(entity: FederatedEntity, defaults: FederationDefaults) -> ServiceProvider:
    """The SP as a per-SP YAML file with only ``metadata:`` and the defaults would give it."""
    meta = entity.metadata
    if (meta.authn_requests_signed or defaults.want_authn_requests_signed) and not (
        meta.signing_certs
    ):
        raise MetadataRejected(
            f"{meta.entity_id}: signed AuthnRequests are required but its metadata has no "
            "signing certificate"
        )
    return ServiceProvider(
        name=meta.entity_id,
        display_name=entity.display_name,
        entity_id=meta.entity_id,
        profile=defaults.profile,
        acs=_endpoints(meta.acs),
        slo=_endpoints(meta.slo),
        signing_certs=meta.signing_certs,
        want_authn_requests_signed=meta.authn_requests_signed
        or defaults.want_authn_requests_signed,
        sign_response=defaults.sign_response,
        sign_assertion=defaults.sign_assertion,
        name_id=defaults.name_id,
        attributes=defaults.attributes,
        encrypt_assertion=defaults.encrypt_assertions and meta.encryption_cert is not None,
        encryption_cert=meta.encryption_cert if defaults.encrypt_assertions else None,
        encryption_algorithm=defaults.encryption_algorithm,
        signature_algorithm=defaults.signature_algorithm,
        digest_algorithm=defaults.digest_algorithm,
        allow_idp_initiated=defaults.allow_idp_initiated,
        policy=defaults.policy,
        relay_state_max_bytes=defaults.relay_state_max_bytes,
        session_lifetime=defaults.session_lifetime,
    )


_DURATION = re.compile(
    r"P(?:(?P<y>\d+)Y)?(?:(?P<mo>\d+)M)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<mi>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?"
)


def parse_duration(value: str | None, *, what: str) -> dt.timedelta | None:
    """An ``xs:duration`` such as ``PT6H`` or ``P1D``; years and months count 365 and 30 days
    (cacheDuration is a hint for how long to cache, not a calendar date)."""
    if value is None:
        return None
    match = _DURATION.fullmatch(value.strip())
    if match is None or value.strip() in ("P", "PT") or value.strip().endswith("T"):
        raise MetadataRejected(f"{what}: cacheDuration {value[:40]!r} is not an xs:duration")
    n = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    days = n["y"] * 365 + n["mo"] * 30 + n["d"]
    try:
        return dt.timedelta(days=days, hours=n["h"], minutes=n["mi"], seconds=n["s"])
    except OverflowError:
        raise MetadataRejected(f"{what}: cacheDuration {value[:40]!r} is out of range") from None


def _parse_document(xml: bytes, *, what: str) -> etree._Element:
    """The hygiene of :func:`idp.saml.bindings.parse_xml` (no DTD, no entities, no network),
    with a parser of its own: lxml serialises users of one parser object, and a 100 MB
    aggregate parsed in the background must not hold up AuthnRequests on the shared one."""
    if xml[:4].startswith((b"\xff\xfe", b"\xfe\xff", b"\x00<", b"<\x00")):
        raise MetadataRejected(f"{what}: metadata must be UTF-8; got UTF-16")
    lowered = xml.lower()
    if b"<!doctype" in lowered or b"<!entity" in lowered:
        raise MetadataRejected(f"{what}: contains a DOCTYPE or ENTITY declaration; refused")
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_pis=True,
        collect_ids=False,
    )
    try:
        root = etree.fromstring(xml, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise MetadataRejected(f"{what}: not well-formed XML: {exc.msg}") from None
    if root.tag not in (_ENTITIES, _ENTITY):
        raise MetadataRejected(
            f"{what}: expected EntitiesDescriptor or EntityDescriptor, "
            f"got {etree.QName(root).localname}"
        )
    return root


def _verify_root_signature(root: etree._Element, *, certs: tuple[bytes, ...], what: str) -> None:
    """The one signature must be a child of the root and cover the root (by ID or ``""``):
    then every entity we read is covered; a signature elsewhere could cover only a part."""
    signatures = root.findall(f"{_DS}Signature")
    if not signatures:
        raise MetadataSignatureInvalid(
            f"{what}: not signed; federation metadata must carry a signature on its root"
        )
    if len(signatures) > 1:
        raise MetadataSignatureInvalid(f"{what}: more than one Signature on the root element")
    signature = signatures[0]
    refs = signature.findall(f"{_DS}SignedInfo/{_DS}Reference")
    root_id = root.get("ID")
    uris = ("", f"#{root_id}") if root_id else ("",)
    if len(refs) != 1 or refs[0].get("URI") not in uris:
        got = refs[0].get("URI") if len(refs) == 1 else f"{len(refs)} references"
        raise MetadataSignatureInvalid(
            f"{what}: the signature must reference the root element ({' or '.join(map(repr, uris))}"
            f"); it references {got!r}"
        )
    if root_id:
        same_id = root.getroottree().xpath("//*[@ID=$i]", i=root_id)
        if not isinstance(same_id, list) or len(same_id) != 1:
            raise MetadataSignatureInvalid(f"{what}: ID {root_id!r} occurs more than once")
    method = signature.find(f"{_DS}SignedInfo/{_DS}SignatureMethod")
    digest = refs[0].find(f"{_DS}DigestMethod")
    digest_name = c.DIGEST_ALGS.get(digest.get("Algorithm", "") if digest is not None else "")
    try:
        _accepted_sig_alg(
            method.get("Algorithm", "") if method is not None else "", allow_sha1=False
        )
        _check_transforms(signature, refs[0])
    except SignatureInvalid as exc:
        raise MetadataSignatureInvalid(f"{what}: {exc.description}") from None
    if digest_name is None or digest_name == "sha1":
        raise MetadataSignatureInvalid(f"{what}: digest algorithm refused; SHA-256 or stronger")
    if root_id:
        xmlsec.tree.add_ids(root, ["ID"])
    for pem in certs:
        ctx = xmlsec.SignatureContext()
        ctx.key = _xmlsec_key(pem)
        try:
            ctx.verify(signature)
            return
        except xmlsec.Error:
            continue
    raise MetadataSignatureInvalid(
        f"{what}: the signature does not verify with the configured federation certificate"
        f"{'s' if len(certs) > 1 else ''}"
    )


@functools.lru_cache(maxsize=64)
def _xmlsec_key(pem: bytes) -> xmlsec.Key:
    return xmlsec.Key.from_memory(pem, xmlsec.constants.KeyDataFormatCertPem)


def _instant(value: str | None, *, what: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        instant = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise MetadataRejected(f"{what}: validUntil {value[:40]!r} is not a dateTime") from None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=dt.UTC)
    return instant


@dataclass(frozen=True)
class _Inherited:
    valid_until: dt.datetime | None
    registration_authority: str | None
    entity_categories: frozenset[str]


class _Walk:
    """Collects the SP entities of a (possibly nested) EntitiesDescriptor."""

    def __init__(self, *, now: dt.datetime, selection: MetadataFilter) -> None:
        self.now = now
        self.selection = selection
        self.entities: list[FederatedEntity] = []
        self.skipped: list[SkippedEntity] = []
        self.not_selected = 0
        self._seen: set[str] = set()

    def visit(self, element: etree._Element, outer: _Inherited) -> None:
        try:
            inherited = self._inherit(element, outer)
        except MetadataRejected as exc:
            self.skipped.append(SkippedEntity(element.get("entityID") or "", exc.description))
            return
        if element.tag == _ENTITIES:
            for child in element:
                if child.tag in (_ENTITIES, _ENTITY):
                    self.visit(child, inherited)
            return
        self._entity(element, inherited)

    def _inherit(self, element: etree._Element, outer: _Inherited) -> _Inherited:
        what = element.get("entityID") or element.get("Name") or "EntitiesDescriptor"
        own = _instant(element.get("validUntil"), what=what)
        valid_until = min((t for t in (own, outer.valid_until) if t is not None), default=None)
        extensions = element.find(f"{_MD}Extensions")
        authority, categories = outer.registration_authority, outer.entity_categories
        if extensions is not None:
            info = extensions.find(f"{{{MDRPI_NS}}}RegistrationInfo")
            if info is not None and info.get("registrationAuthority"):
                authority = info.get("registrationAuthority")
            categories = categories | _categories(extensions)
        return _Inherited(valid_until, authority, categories)

    def _entity(self, element: etree._Element, inherited: _Inherited) -> None:
        entity_id = element.get("entityID") or ""
        if element.find(f"{_MD}SPSSODescriptor") is None:
            self.not_selected += 1
            return
        if inherited.valid_until is not None and inherited.valid_until <= self.now:
            self.skipped.append(SkippedEntity(entity_id, "validUntil is past"))
            return
        if entity_id in self._seen:
            self.skipped.append(SkippedEntity(entity_id, "appears more than once; first kept"))
            return
        try:
            meta = parse_sp_metadata(etree.tostring(element))
        except SamlError as exc:
            self.skipped.append(SkippedEntity(entity_id, exc.description))
            return
        entity = FederatedEntity(
            metadata=meta,
            registration_authority=inherited.registration_authority,
            entity_categories=inherited.entity_categories,
            display_name=_display_name(element),
            valid_until=inherited.valid_until,
        )
        if not selected(entity, self.selection):
            self.not_selected += 1
            return
        if not meta.acs:
            self.skipped.append(SkippedEntity(entity_id, "no HTTP-POST AssertionConsumerService"))
            return
        self._seen.add(entity_id)
        self.entities.append(entity)


def _categories(extensions: etree._Element) -> frozenset[str]:
    values: set[str] = set()
    for attributes in extensions.iterfind(f"{{{MDATTR_NS}}}EntityAttributes"):
        for attribute in attributes.iterfind(f"{{{c.SAML_NS}}}Attribute"):
            if attribute.get("Name") == ENTITY_CATEGORY:
                values |= {
                    (v.text or "").strip()
                    for v in attribute.iterfind(f"{{{c.SAML_NS}}}AttributeValue")
                    if (v.text or "").strip()
                }
    return frozenset(values)


def _display_name(entity: etree._Element) -> str | None:
    """mdui:DisplayName (English first), for "to continue to …" on the sign-in page."""
    names = entity.findall(
        f"{_MD}SPSSODescriptor/{_MD}Extensions/{{{MDUI_NS}}}UIInfo/{{{MDUI_NS}}}DisplayName"
    )
    ordered = sorted(names, key=lambda n: n.get(_XML_LANG) != "en")
    for name in ordered:
        text = " ".join((name.text or "").split())
        if text:
            return text[:100]
    return None


def _endpoints(endpoints: tuple[MetadataEndpoint, ...]) -> tuple[Endpoint, ...]:
    return tuple(
        Endpoint(e.binding, e.url, e.index, e.is_default, e.response_url) for e in endpoints
    )
