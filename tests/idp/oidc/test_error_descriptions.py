"""Defect (issue 16 §3.7): ``error_description`` carried ``§``, quotes and echoed client input.

RFC 6749 §4.1.2.1 and §5.2 allow only %x20-21 / %x23-5B / %x5D-7E there; strict client
libraries refuse anything else. Every OIDC error class reduces its description when made.
"""

from __future__ import annotations

import re

import pytest

from idp.oidc import errors as e
from idp.oidc.authorize import ErrorTarget, error_response
from idp.oidc.eam import EamTarget, eam_error_response

ALLOWED = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")
HOSTILE = 'claims is not valid JSON (OIDC Core §5.5): "x\\y"\r\n\tnaïve — 名前 \x00\x7f' + "z" * 900


def _all_error_classes() -> list[type[e.OidcError]]:
    found: list[type[e.OidcError]] = []
    pending: list[type[e.OidcError]] = [e.OidcError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


#: the keyword arguments of the classes that take more than a description
_EXTRA: dict[type[e.OidcError], dict[str, object]] = {
    e.FamilyRevokedError: {"grant_id": "g"},
    e.BackchannelDeliveryError: {"kind": next(iter(e.DeliveryFailure))},
}


def _make(cls: type[e.OidcError], text: str) -> e.OidcError:
    return cls(text, **_EXTRA.get(cls, {}))


def test_the_check_covers_every_error_class_of_the_module() -> None:
    declared = {v for v in vars(e).values() if isinstance(v, type) and issubclass(v, e.OidcError)}
    assert declared <= set(_all_error_classes())
    assert len(declared) > 20


@pytest.mark.parametrize("cls", _all_error_classes(), ids=lambda c: c.__name__)
def test_every_error_class_carries_only_the_allowed_characters(cls: type[e.OidcError]) -> None:
    exc = _make(cls, HOSTILE)
    assert ALLOWED.fullmatch(exc.description), exc.description
    assert len(exc.description) <= e.MAX_DESCRIPTION
    assert exc.to_dict()["error_description"] == exc.description


def test_the_reduction_keeps_the_message_readable() -> None:
    exc = e.InvalidRequestError('claims is not valid JSON (OIDC Core §5.5), got "{x"')
    assert exc.description == "claims is not valid JSON (OIDC Core section 5.5), got '{x'"
    assert e.InvalidRequestError("a\\b\nc").description == "a/b c"
    assert e.InvalidRequestError("user ünïcode").description == "user ?n?code"


def test_redirects_and_form_posts_carry_the_reduced_text() -> None:
    exc = e.InvalidRequestError(HOSTILE)
    redirect = error_response(ErrorTarget("https://rp/cb", "query", "s"), exc, issuer="https://op")
    posted = eam_error_response(EamTarget("c", "https://login/cb", "s", "global"), exc)
    for answer in (redirect, posted):
        description = dict(answer.params)["error_description"]
        assert ALLOWED.fullmatch(description) and description == exc.description
