"""Passive requestor parameters (WS-Federation 1.2 §13.2): what is accepted, what is refused.

Every refusal is a typed error with a message that says what was expected and what arrived;
none of them can send the browser to an unchecked URL.
"""

from __future__ import annotations

import datetime as dt

import pytest

from idp.wsfed.errors import (
    ContextTooLarge,
    MalformedRequest,
    MissingAction,
    UnknownRealm,
    UnregisteredReply,
    UnsupportedAction,
    WsFedError,
)
from idp.wsfed.model import WsFedSettings, url_key
from idp.wsfed.requests import SignInRequest, SignOutRequest, parse_request
from tests.idp.wsfed.conftest import ECP, NOW, OWA, WIF, WIF_REPLY


def parse(settings: WsFedSettings, **params: str | list[str]) -> SignInRequest | SignOutRequest:
    multi = {k: v if isinstance(v, list) else [v] for k, v in params.items()}
    return parse_request(multi, settings=settings, now=NOW)


def test_minimal_sign_in_posts_to_the_first_reply_url(settings: WsFedSettings) -> None:
    request = parse(settings, wa="wsignin1.0", wtrealm=WIF)
    assert isinstance(request, SignInRequest)
    assert request.reply_url == WIF_REPLY
    assert request.relying_party.name == "expenses"
    assert (request.context, request.force_fresh, request.max_age) == (None, False, None)
    assert request.received_at == NOW


def test_all_parameters_are_read(settings: WsFedSettings) -> None:
    request = parse(
        settings,
        wa="wsignin1.0",
        wtrealm=OWA,
        wreply=OWA,
        wctx="rm=0&id=passive",
        wct="2025-03-04T09:59:58Z",
        wfresh="15",
        whr="https://sts.example.com/",
        wauth="x",
        unknown="ignored",
    )
    assert isinstance(request, SignInRequest)
    assert request.context == "rm=0&id=passive"
    assert request.rp_time == dt.datetime(2025, 3, 4, 9, 59, 58, tzinfo=dt.UTC)
    assert request.max_age == 15 * 60
    assert not request.force_fresh
    assert request.home_realm == "https://sts.example.com/"


def test_wfresh_zero_forces_a_new_sign_in(settings: WsFedSettings) -> None:
    request = parse(settings, wa="wsignin1.0", wtrealm=OWA, wfresh="0")
    assert isinstance(request, SignInRequest)
    assert request.force_fresh and request.max_age is None


@pytest.mark.parametrize("value", ["-1", "1.5", "soon", "１"])
def test_malformed_wfresh_is_refused(settings: WsFedSettings, value: str) -> None:
    with pytest.raises(MalformedRequest, match="wfresh must be a whole number"):
        parse(settings, wa="wsignin1.0", wtrealm=OWA, wfresh=value)


def test_malformed_wct_is_refused(settings: WsFedSettings) -> None:
    with pytest.raises(MalformedRequest, match="wct must be an xs:dateTime"):
        parse(settings, wa="wsignin1.0", wtrealm=OWA, wct="yesterday")


def test_missing_wa(settings: WsFedSettings) -> None:
    with pytest.raises(MissingAction, match="wa parameter is missing") as info:
        parse(settings, wtrealm=OWA)
    assert info.value.status == 400


def test_empty_wa_counts_as_missing(settings: WsFedSettings) -> None:
    with pytest.raises(MissingAction):
        parse(settings, wa="", wtrealm=OWA)


@pytest.mark.parametrize("action", ["wsignin1.1", "wattr1.0", "WSIGNIN1.0", "wsignin1.0 "])
def test_unsupported_wa(settings: WsFedSettings, action: str) -> None:
    with pytest.raises(UnsupportedAction, match=r"unsupported wa=.*expected one of wsignin1\.0"):
        parse(settings, wa=action, wtrealm=OWA)


def test_unknown_realm(settings: WsFedSettings) -> None:
    with pytest.raises(UnknownRealm, match="no relying party is configured for the realm"):
        parse(settings, wa="wsignin1.0", wtrealm="https://evil.example.net/owa/")


def test_missing_realm(settings: WsFedSettings) -> None:
    with pytest.raises(MalformedRequest, match="needs wtrealm"):
        parse(settings, wa="wsignin1.0", wreply=OWA)


@pytest.mark.parametrize(
    "wreply",
    [
        "https://evil.example.net/owa/",
        "https://mail.example.com/owa/../evil",
        "https://mail.example.com.evil.net/owa/",
        "https://mail.example.com/owa/?next=https://evil.example.net",
        ECP,  # registered, but for another realm
        "javascript:alert(1)",
    ],
)
def test_unregistered_wreply_is_refused(settings: WsFedSettings, wreply: str) -> None:
    with pytest.raises(UnregisteredReply, match="is not registered for the realm") as info:
        parse(settings, wa="wsignin1.0", wtrealm=OWA, wreply=wreply)
    assert "registered: https://mail.example.com/owa/" in info.value.description


def test_reply_matching_ignores_host_case_and_one_trailing_slash(settings: WsFedSettings) -> None:
    request = parse(settings, wa="wsignin1.0", wtrealm=OWA, wreply="HTTPS://Mail.Example.com/owa")
    assert isinstance(request, SignInRequest)
    assert request.reply_url == OWA


def test_oversized_wctx_is_refused_before_anything_else(settings: WsFedSettings) -> None:
    with pytest.raises(ContextTooLarge, match="wctx is 2049 bytes; at most 2048") as info:
        parse(settings, wa="wsignin1.0", wtrealm=OWA, wctx="x" * 2049)
    assert info.value.status == 413


def test_wctx_limit_counts_bytes_not_characters(settings: WsFedSettings) -> None:
    ok = parse(settings, wa="wsignin1.0", wtrealm=OWA, wctx="x" * 2048)
    assert isinstance(ok, SignInRequest) and ok.context == "x" * 2048
    with pytest.raises(ContextTooLarge, match="2050 bytes"):
        parse(settings, wa="wsignin1.0", wtrealm=OWA, wctx="é" * 1025)


def test_script_in_wctx_is_kept_verbatim_for_escaping_later(settings: WsFedSettings) -> None:
    payload = '"><script>alert(document.cookie)</script>'
    request = parse(settings, wa="wsignin1.0", wtrealm=OWA, wctx=payload)
    assert isinstance(request, SignInRequest) and request.context == payload


@pytest.mark.parametrize("name", ["wctx", "wtrealm", "wreply"])
def test_control_characters_are_refused(settings: WsFedSettings, name: str) -> None:
    params = {"wa": "wsignin1.0", "wtrealm": OWA, name: "a\r\nSet-Cookie: x=1"}
    with pytest.raises(MalformedRequest, match=f"{name} contains control characters"):
        parse(settings, **params)


def test_repeated_parameter_is_refused(settings: WsFedSettings) -> None:
    with pytest.raises(MalformedRequest, match="wreply must appear once, it appeared 2 times"):
        parse(settings, wa="wsignin1.0", wtrealm=OWA, wreply=[OWA, "https://evil.example.net/"])


def test_overlong_realm_is_refused(settings: WsFedSettings) -> None:
    with pytest.raises(MalformedRequest, match="wtrealm is longer than 2048"):
        parse(settings, wa="wsignin1.0", wtrealm="https://x.example.com/" + "a" * 3000)


def test_error_messages_shorten_what_arrived(settings: WsFedSettings) -> None:
    with pytest.raises(UnknownRealm) as info:
        parse(settings, wa="wsignin1.0", wtrealm="urn:" + "z" * 2000)
    assert len(info.value.description) < 300


def test_every_refusal_is_a_wsfed_error(settings: WsFedSettings) -> None:
    for params in ({}, {"wa": "nope"}, {"wa": "wsignin1.0"}):
        with pytest.raises(WsFedError):
            parse(settings, **params)


def test_sign_out_with_registered_reply(settings: WsFedSettings) -> None:
    request = parse(settings, wa="wsignout1.0", wreply="https://expenses.example.com/alt")
    assert request == SignOutRequest(
        cleanup_only=False, reply_url="https://expenses.example.com/alt", realm=None
    )


def test_sign_out_without_reply(settings: WsFedSettings) -> None:
    request = parse(settings, wa="wsignout1.0")
    assert request == SignOutRequest(cleanup_only=False, reply_url=None, realm=None)


def test_sign_out_cleanup(settings: WsFedSettings) -> None:
    request = parse(settings, wa="wsignoutcleanup1.0", wtrealm=OWA)
    assert request == SignOutRequest(cleanup_only=True, reply_url=None, realm=OWA)


def test_sign_out_to_an_unregistered_reply_is_refused(settings: WsFedSettings) -> None:
    with pytest.raises(UnregisteredReply, match="not a registered reply URL"):
        parse(settings, wa="wsignout1.0", wreply="https://evil.example.net/")


def test_sign_out_extra_reply_urls(settings: WsFedSettings) -> None:
    from tests.idp.wsfed.conftest import make_settings

    extra = make_settings(signout_reply_urls=("https://portal.example.com/bye",))
    request = parse(extra, wa="wsignout1.0", wreply="https://portal.example.com/bye/")
    assert isinstance(request, SignOutRequest)
    assert request.reply_url == "https://portal.example.com/bye"


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("https://a.example.com/owa/", "https://a.example.com/owa", True),
        ("https://A.example.com/owa", "https://a.example.com/owa", True),
        ("https://a.example.com/owa", "https://a.example.com/OWA", False),
        ("https://a.example.com/owa//", "https://a.example.com/owa", False),
        ("https://a.example.com/owa?x=1", "https://a.example.com/owa?x=2", False),
        ("urn:app", "urn:app/", False),
        ("urn:app", "URN:app", False),
    ],
)
def test_url_key(a: str, b: str, same: bool) -> None:
    assert (url_key(a) == url_key(b)) is same


def test_a_caller_passing_plain_strings_is_a_programming_error(settings: WsFedSettings) -> None:
    with pytest.raises(TypeError, match="must map to a list of values"):
        parse_request({"wa": "wsignin1.0"}, settings=settings, now=NOW)  # type: ignore[dict-item]
