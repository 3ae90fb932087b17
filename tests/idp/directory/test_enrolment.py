"""The pure rules of one-time enrolment links."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib

import pytest

from idp.directory.enrolment import (
    LINK_LIFETIME,
    EnrolmentLinkExpired,
    EnrolmentLinkUsed,
    UnknownEnrolmentLink,
    check_redeemable,
    hash_token,
    issue_link,
)

NOW = dt.datetime(2025, 5, 1, 12, 0, tzinfo=dt.UTC)


def test_issue_link_stores_only_the_hash() -> None:
    token, link = issue_link(employee_id="e1", created_by="admin:ann", now=NOW)
    assert len(token) == 43  # 32 bytes, base64url without padding
    assert token not in repr(link)
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert link.expires_at - link.created_at == LINK_LIFETIME == dt.timedelta(hours=24)


def test_tokens_are_unique() -> None:
    tokens = {issue_link(employee_id="e", created_by="a", now=NOW)[0] for _ in range(50)}
    assert len(tokens) == 50


@pytest.mark.parametrize("token", ["", "short", "a" * 44, "a" * 42 + "!", "../" * 15, "é" * 43])
def test_malformed_tokens_are_unknown(token: str) -> None:
    with pytest.raises(UnknownEnrolmentLink):
        hash_token(token)


def test_redeemable_until_just_before_expiry() -> None:
    _, link = issue_link(employee_id="e1", created_by="a", now=NOW)
    almost = NOW + LINK_LIFETIME - dt.timedelta(microseconds=1)
    assert check_redeemable(link, now=almost) is link
    with pytest.raises(EnrolmentLinkExpired, match="expired"):
        check_redeemable(link, now=NOW + LINK_LIFETIME)


def test_used_and_unknown_are_distinct() -> None:
    _, link = issue_link(employee_id="e1", created_by="a", now=NOW)
    used = dataclasses.replace(link, used_at=NOW)
    with pytest.raises(EnrolmentLinkUsed):
        check_redeemable(used, now=NOW)
    with pytest.raises(UnknownEnrolmentLink):
        check_redeemable(None, now=NOW)


def test_issue_link_refuses_naive_now_and_bad_lifetime() -> None:
    with pytest.raises(ValueError):
        issue_link(employee_id="e", created_by="a", now=dt.datetime(2025, 1, 1))
    with pytest.raises(ValueError):
        issue_link(employee_id="e", created_by="a", now=NOW, lifetime=dt.timedelta(0))
