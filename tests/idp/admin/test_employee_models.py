"""``SessionOut``: the relying parties a session signed in to, read with each protocol's own
decoder (entity ids, NameIDs and relying-party names may hold ``:`` and ``|``)."""

from __future__ import annotations

import datetime as dt

from idp.admin.employee_models import SessionOut, relying_party_of
from idp.oidc.logout_channels import OidcParticipant
from idp.saml.logout import SessionParticipant
from idp.sessions import SessionSummary

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def test_each_protocols_participant_gives_its_relying_party() -> None:
    saml = SessionParticipant("urn:sp:a|b", "alice|x:y", "_idx:1").encode()
    oidc = OidcParticipant.for_session(client_id="-wiki.x", session_id="s" * 43).encode()
    participants = (saml, oidc, "wsfed|owa:ecp|2", "wsfed|owa:ecp|2", "saml:not json", "x")
    summary = SessionSummary("h", "e", NOW, NOW, (), participants)
    assert SessionOut.of(summary).relying_parties == ["-wiki.x", "owa:ecp|2", "urn:sp:a|b"]


def test_what_no_protocol_wrote_names_nothing() -> None:
    for value in ("", "saml:", 'saml:["only one"]', "oidc:wiki", "oidc:|sid", "wsfed|", "wsfed"):
        assert relying_party_of(value) is None
