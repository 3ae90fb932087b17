"""Verifying signed federation metadata and selecting its SPs (sans-IO, idp.saml.federation)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from lxml import etree

from idp.config.saml_model import FederationDefaults, MetadataFilter, NameIdRule
from idp.keys import SigningKey
from idp.saml import constants as c
from idp.saml.federation import (
    MetadataExpired,
    MetadataRejected,
    MetadataSignatureInvalid,
    MetadataTooLarge,
    VerifiedMetadata,
    metadata_url_allowed,
    parse_duration,
    service_provider,
    verify_metadata,
)
from idp.saml.mdq import entity_url, read_answer
from tests.conftest import KeyMaker
from tests.idp.saml.federation_support import (
    FED_A,
    FED_B,
    RESEARCH,
    aggregate,
    idp_entity,
    sign,
    single,
    sp_entity,
)

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(days=7)


@pytest.fixture(scope="module")
def fed_key(test_keys: KeyMaker) -> SigningKey:
    return test_keys("federation")


@pytest.fixture(scope="module")
def rogue_key(test_keys: KeyMaker) -> SigningKey:
    return test_keys("rogue-federation")


def verify(
    xml: bytes,
    key: SigningKey,
    *,
    max_bytes: int = 1024 * 1024,
    require_valid_until: bool = True,
    selection: MetadataFilter = MetadataFilter(),  # noqa: B008 - frozen
) -> VerifiedMetadata:
    return verify_metadata(
        xml=xml,
        expected_signing_certs=(key.cert_pem,),
        now=NOW,
        max_bytes=max_bytes,
        require_valid_until=require_valid_until,
        selection=selection,
        what="aggregate 'test'",
    )


def test_signed_aggregate_gives_its_sp_entities(fed_key: SigningKey) -> None:
    xml = sign(
        aggregate(
            [
                sp_entity("https://a.example.org/sp", display_name="Research Wiki"),
                sp_entity("https://b.example.org/sp"),
                idp_entity("https://idp.other.example.org"),
            ],
            valid_until=LATER,
            cache_duration="PT6H",
        ),
        fed_key,
    )
    result = verify(xml, fed_key)
    assert [e.entity_id for e in result.entities] == [
        "https://a.example.org/sp",
        "https://b.example.org/sp",
    ]
    assert result.not_selected == 1  # the IdP entity
    assert result.valid_until == LATER
    assert result.cache_duration == dt.timedelta(hours=6)
    assert result.entities[0].display_name == "Research Wiki"
    assert result.entities[0].metadata.acs[0].url == "https://a.example.org/sp/acs"


def test_signature_over_the_whole_document_by_empty_uri_is_accepted(fed_key: SigningKey) -> None:
    xml = sign(aggregate([sp_entity("https://a.example.org/sp")], valid_until=LATER), fed_key,
               reference="")  # fmt: skip
    assert len(verify(xml, fed_key).entities) == 1


def test_unsigned_aggregate_is_refused(fed_key: SigningKey) -> None:
    xml = aggregate([sp_entity("https://a.example.org/sp")], valid_until=LATER)
    with pytest.raises(MetadataSignatureInvalid, match="not signed"):
        verify(xml, fed_key)


def test_aggregate_signed_by_another_key_is_refused(
    fed_key: SigningKey, rogue_key: SigningKey
) -> None:
    xml = sign(aggregate([sp_entity("https://a.example.org/sp")], valid_until=LATER), rogue_key)
    with pytest.raises(MetadataSignatureInvalid, match="does not verify with the configured"):
        verify(xml, fed_key)


def test_aggregate_changed_after_signing_is_refused(fed_key: SigningKey) -> None:
    xml = sign(aggregate([sp_entity("https://a.example.org/sp")], valid_until=LATER), fed_key)
    forged = xml.replace(b"https://a.example.org/sp/acs", b"https://evil.example.net/acs")
    with pytest.raises(MetadataSignatureInvalid, match="does not verify"):
        verify(forged, fed_key)


def test_signature_covering_only_one_entity_is_refused(fed_key: SigningKey) -> None:
    # Signature wrapping: a validly signed entity inside an unsigned aggregate.
    inner = single(sp_entity("https://a.example.org/sp"), valid_until=LATER, root_id="_inner")
    signed_inner = sign(inner, fed_key)
    signature = etree.fromstring(signed_inner).find(f"{{{c.DS_NS}}}Signature")
    assert signature is not None
    root = etree.fromstring(
        aggregate([sp_entity("https://evil.example.net/sp")], valid_until=LATER)
    )
    root.insert(0, signature)
    with pytest.raises(MetadataSignatureInvalid, match="must reference the root"):
        verify(etree.tostring(root), fed_key)


def test_sha1_signature_is_refused(fed_key: SigningKey) -> None:
    xml = sign(aggregate([sp_entity("https://a.example.org/sp")], valid_until=LATER), fed_key)
    downgraded = xml.replace(
        b"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        b"http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    )
    with pytest.raises(MetadataSignatureInvalid, match="SHA1"):
        verify(downgraded, fed_key)


def test_expired_aggregate_is_refused(fed_key: SigningKey) -> None:
    xml = sign(
        aggregate([sp_entity("https://a.example.org/sp")], valid_until=NOW - dt.timedelta(1)),
        fed_key,
    )
    with pytest.raises(MetadataExpired, match=r"validUntil .* is past"):
        verify(xml, fed_key)


def test_aggregate_without_valid_until_is_refused_unless_allowed(fed_key: SigningKey) -> None:
    xml = sign(aggregate([sp_entity("https://a.example.org/sp")], valid_until=None), fed_key)
    with pytest.raises(MetadataExpired, match="no validUntil"):
        verify(xml, fed_key)
    assert len(verify(xml, fed_key, require_valid_until=False).entities) == 1


def test_expired_entity_inside_a_valid_aggregate_is_skipped(fed_key: SigningKey) -> None:
    xml = sign(
        aggregate(
            [
                sp_entity("https://old.example.org/sp", valid_until=NOW - dt.timedelta(hours=1)),
                sp_entity("https://a.example.org/sp"),
            ],
            valid_until=LATER,
        ),
        fed_key,
    )
    result = verify(xml, fed_key)
    assert [e.entity_id for e in result.entities] == ["https://a.example.org/sp"]
    assert [(s.entity_id, s.reason) for s in result.skipped] == [
        ("https://old.example.org/sp", "validUntil is past")
    ]


def test_hostile_entity_is_skipped_and_the_rest_kept(fed_key: SigningKey) -> None:
    xml = sign(
        aggregate(
            [
                sp_entity("https://a.example.org/sp", acs="javascript:alert(1)"),
                sp_entity("https://b.example.org/sp"),
                sp_entity("https://b.example.org/sp", acs="https://b.example.org/other"),
            ],
            valid_until=LATER,
        ),
        fed_key,
    )
    result = verify(xml, fed_key)
    assert [e.entity_id for e in result.entities] == ["https://b.example.org/sp"]
    assert result.entities[0].metadata.acs[0].url == "https://b.example.org/sp/acs"
    reasons = {s.entity_id: s.reason for s in result.skipped}
    assert "not an http(s) URL" in reasons["https://a.example.org/sp"]
    assert "more than once" in reasons["https://b.example.org/sp"]


@pytest.mark.parametrize(
    "payload",
    [
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">&x;'
        b"</md:EntitiesDescriptor>",
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 '
        b'"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        b'<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">&lol2;'
        b"</md:EntitiesDescriptor>",
        b"<md:EntitiesDescriptor xmlns:md='urn:oasis:names:tc:SAML:2.0:metadata'>",
        b"<foo/>",
        "<md:EntitiesDescriptor xmlns:md='urn:oasis:names:tc:SAML:2.0:metadata'/>".encode(
            "utf-16-le"
        ),
    ],
    ids=["xxe", "billion-laughs", "truncated", "wrong-root", "utf-16"],
)
def test_hostile_xml_is_refused_before_anything_is_read(
    fed_key: SigningKey, payload: bytes
) -> None:
    with pytest.raises(MetadataRejected) as caught:
        verify(payload, fed_key)
    assert caught.value.description.startswith("aggregate 'test': ")
    assert "passwd" not in caught.value.description


def test_oversized_aggregate_is_refused_by_size_first(fed_key: SigningKey) -> None:
    xml = sign(aggregate([sp_entity("https://a.example.org/sp")], valid_until=LATER), fed_key)
    with pytest.raises(MetadataTooLarge, match="limit is 100"):
        verify(xml, fed_key, max_bytes=100)


def _filtered(fed_key: SigningKey, selection: MetadataFilter) -> list[str]:
    xml = sign(
        aggregate(
            [
                sp_entity("https://a.example.org/sp", categories=[RESEARCH]),
                sp_entity("https://b.example.org/sp"),
                sp_entity("https://c.example.org/sp", authority=FED_B, categories=[RESEARCH]),
            ],
            valid_until=LATER,
            authority=FED_A,  # inherited by a and b; c says its own
        ),
        fed_key,
    )
    return [e.entity_id for e in verify(xml, fed_key, selection=selection).entities]


def test_filter_by_entity_id(fed_key: SigningKey) -> None:
    chosen = MetadataFilter(entity_ids=frozenset({"https://b.example.org/sp"}))
    assert _filtered(fed_key, chosen) == ["https://b.example.org/sp"]


def test_filter_by_registration_authority_inherited_from_the_aggregate(
    fed_key: SigningKey,
) -> None:
    chosen = MetadataFilter(registration_authorities=frozenset({FED_A}))
    assert _filtered(fed_key, chosen) == ["https://a.example.org/sp", "https://b.example.org/sp"]


def test_filter_by_entity_category(fed_key: SigningKey) -> None:
    chosen = MetadataFilter(entity_categories=frozenset({RESEARCH}))
    assert _filtered(fed_key, chosen) == ["https://a.example.org/sp", "https://c.example.org/sp"]


def test_filter_criteria_must_all_hold(fed_key: SigningKey) -> None:
    chosen = MetadataFilter(
        registration_authorities=frozenset({FED_B}), entity_categories=frozenset({RESEARCH})
    )
    assert _filtered(fed_key, chosen) == ["https://c.example.org/sp"]
    none = MetadataFilter(
        entity_ids=frozenset({"https://b.example.org/sp"}), entity_categories=frozenset({RESEARCH})
    )
    assert _filtered(fed_key, none) == []


def test_service_provider_takes_the_federation_defaults(fed_key: SigningKey) -> None:
    xml = sign(
        aggregate([sp_entity("https://a.example.org/sp", cert=fed_key)], valid_until=LATER),
        fed_key,
    )
    entity = verify(xml, fed_key).entities[0]
    defaults = FederationDefaults(
        name_id=NameIdRule(c.NAMEID_TRANSIENT, "transient"),
        policy="research",
        sign_response=True,
        want_authn_requests_signed=True,
    )
    sp = service_provider(entity, defaults)
    assert sp.entity_id == sp.name == "https://a.example.org/sp"
    assert sp.acs[0].url == "https://a.example.org/sp/acs"
    assert sp.signing_certs == (fed_key.cert_pem,)
    assert sp.name_id.format == c.NAMEID_TRANSIENT
    assert sp.policy == "research"
    assert sp.sign_response and sp.sign_assertion and sp.want_authn_requests_signed
    assert not sp.allow_idp_initiated


def test_service_provider_that_must_sign_but_has_no_certificate_is_refused(
    fed_key: SigningKey,
) -> None:
    xml = sign(aggregate([sp_entity("https://a.example.org/sp")], valid_until=LATER), fed_key)
    entity = verify(xml, fed_key).entities[0]
    with pytest.raises(MetadataRejected, match="no signing certificate"):
        service_provider(entity, FederationDefaults(want_authn_requests_signed=True))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT6H", dt.timedelta(hours=6)),
        ("P1D", dt.timedelta(days=1)),
        ("P1DT30M", dt.timedelta(days=1, minutes=30)),
        ("PT0.5S", dt.timedelta(seconds=0.5)),
        (None, None),
    ],
)
def test_cache_duration(text: str | None, expected: dt.timedelta | None) -> None:
    assert parse_duration(text, what="x") == expected


@pytest.mark.parametrize("text", ["P", "PT", "6 hours", "-PT6H", "P1DT", "P99999999999999Y"])
def test_bad_cache_duration_is_refused(text: str) -> None:
    with pytest.raises(MetadataRejected, match="cacheDuration"):
        parse_duration(text, what="x")


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://mds.example.org/md.xml", True),
        ("http://127.0.0.1:8080/md.xml", True),
        ("http://localhost/md.xml", True),
        ("http://[::1]:8080/md.xml", True),
        ("http://mds.example.org/md.xml", False),
        ("http://10.0.0.1/md.xml", False),
        ("file:///etc/passwd", False),
        ("ftp://mds.example.org/md.xml", False),
    ],
)
def test_metadata_url_allowed(url: str, allowed: bool) -> None:
    assert metadata_url_allowed(url) is allowed


def test_mdq_url_percent_encodes_the_entity_id() -> None:
    # draft-young-md-query §3.2 example form
    assert (
        entity_url("https://mdq.example.org/", "https://sp.example.org/shibboleth?x=1")
        == "https://mdq.example.org/entities/https%3A%2F%2Fsp.example.org%2Fshibboleth%3Fx%3D1"
    )


def test_mdq_answer_for_another_entity_is_refused(fed_key: SigningKey) -> None:
    xml = sign(single(sp_entity("https://evil.example.net/sp"), valid_until=LATER), fed_key)
    with pytest.raises(MetadataRejected, match=re.escape("asked for 'https://a.example.org/sp'")):
        read_answer(
            xml=xml,
            expected_entity_id="https://a.example.org/sp",
            expected_signing_certs=(fed_key.cert_pem,),
            now=NOW,
            max_bytes=1024 * 1024,
            max_cache=dt.timedelta(hours=1),
            require_valid_until=True,
            selection=MetadataFilter(),
            what="mdq",
        )


def test_mdq_answer_is_cached_until_the_earliest_limit(fed_key: SigningKey) -> None:
    xml = sign(
        single(sp_entity("https://a.example.org/sp"), valid_until=NOW + dt.timedelta(minutes=20)),
        fed_key,
    )
    answer = read_answer(
        xml=xml,
        expected_entity_id="https://a.example.org/sp",
        expected_signing_certs=(fed_key.cert_pem,),
        now=NOW,
        max_bytes=1024 * 1024,
        max_cache=dt.timedelta(hours=1),
        require_valid_until=True,
        selection=MetadataFilter(),
        what="mdq",
    )
    assert answer.entity is not None
    assert answer.expires_at == NOW + dt.timedelta(minutes=20)
