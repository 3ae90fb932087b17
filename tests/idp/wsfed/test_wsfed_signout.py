"""Sign-out fan-out (WS-Federation 1.2 §13.2.4): wsignoutcleanup1.0 to each RP of the session."""

from __future__ import annotations

from idp.wsfed.model import WsFedSettings
from idp.wsfed.requests import SignOutRequest
from idp.wsfed.signout import participant_key, plan_signout


def test_cleanup_urls_for_the_session_rps_only(settings: WsFedSettings) -> None:
    owa, _ecp, expenses = settings.relying_parties
    plan = plan_signout(
        request=SignOutRequest(
            cleanup_only=False, reply_url="https://mail.example.com/owa/", realm=None
        ),
        participants=(
            participant_key(expenses),
            "saml|https://sp|x|y",
            participant_key(owa),
            participant_key(owa),
            "wsfed|gone",
        ),
        settings=settings,
    )
    assert plan.cleanup_urls == (
        "https://expenses.example.com/signout?x=1&wa=wsignoutcleanup1.0",
        "https://mail.example.com/owa/?wa=wsignoutcleanup1.0",
    )
    assert plan.continue_to == "https://mail.example.com/owa/"
    assert plan.cleanup_origins == ("https://expenses.example.com", "https://mail.example.com")


def test_cleanup_request_fans_out_to_nobody(settings: WsFedSettings) -> None:
    owa = settings.relying_parties[0]
    plan = plan_signout(
        request=SignOutRequest(cleanup_only=True, reply_url=None, realm=None),
        participants=(participant_key(owa),),
        settings=settings,
    )
    assert plan.cleanup_urls == () and plan.continue_to is None


def test_participant_keys_are_namespaced(settings: WsFedSettings) -> None:
    assert participant_key(settings.relying_parties[0]) == "wsfed|owa"
