"""Rules for a new password (NIST SP 800-63B §5.1.1.2): length, common, runs, identity."""

from __future__ import annotations

import pytest

from idp.directory.model import Employee
from idp.factors.password_errors import (
    PasswordError,
    PasswordMatchesIdentity,
    PasswordTooGuessable,
    PasswordTooLong,
    PasswordTooShort,
)
from idp.factors.password_rules import (
    MAX_PASSWORD_LENGTH,
    check_new_password,
    common_passwords,
    normalise_password,
)

ALICE = Employee(
    id="emp-1", username="asmith", email="Alice.Smith@Example.com", first_name="Alice",
    last_name="Smith",
)  # fmt: skip


def check(password: str, *, min_length: int = 12) -> str:
    return check_new_password(password=password, employee=ALICE, min_length=min_length)


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery staple",
        "Tr0ub4dor&3 is too short? no",
        "ünïcödé paßwörter sind ok",
        "пароль-для-входа-в-систему",
        "  spaces count too  ",
    ],
)
def test_acceptable_passwords_come_back_normalised(password: str) -> None:
    assert check(password) == password  # these are NFKC already


def test_normalisation_is_nfkc() -> None:
    assert normalise_password("\ufb01le \u2460\u2461 \uff21\uff22") == "file 12 AB"


def test_minimum_length_counts_code_points_after_normalisation() -> None:
    assert check("short phrase") == "short phrase"  # exactly 12
    with pytest.raises(PasswordTooShort) as caught:
        check("eleven char")
    assert caught.value.status == 400
    assert caught.value.error == "password_too_short"
    assert caught.value.description == "a password needs at least 12 characters; this one has 11"
    assert check("€€€ kühl öl! ab", min_length=15)  # 15 code points, more bytes
    with pytest.raises(PasswordTooShort):
        check("correct horse", min_length=16)


def test_maximum_length_and_a_10kb_input() -> None:
    boundary = "a long phrase " * 18 + "done"
    assert len(boundary) == MAX_PASSWORD_LENGTH
    assert check(boundary) == boundary
    with pytest.raises(PasswordTooLong) as caught:
        check("y" * 10_240)
    assert caught.value.description == "a password has at most 256 characters; this one has 10240"
    # U+FDFA expands to 18 characters under NFKC: short raw, too long normalised.
    with pytest.raises(PasswordTooLong, match="once normalised"):
        check("\ufdfa" * 20)


@pytest.mark.parametrize(
    "password",
    ["password1234", "Password123456", "QWERTYUIOP123", "qwertyuiopasdfghjkl", "Summer2024!!!!",
     "iloveyou123456", "letmein-12345", "1q2w3e4r5t6y", "123456789012", "Welcome2026!?"],
)  # fmt: skip
def test_common_passwords_and_their_decorated_forms_are_refused(password: str) -> None:
    with pytest.raises(PasswordTooGuessable) as caught:
        check(password)
    assert caught.value.error == "password_too_common"
    assert (
        "most commonly used" in caught.value.description or "sequence" in caught.value.description
    )
    assert password not in caught.value.description


@pytest.mark.parametrize(
    "password", ["aaaaaaaaaaaa", "abcdefghijklmn", "ZYXWVUTSRQPO", "————————————"]
)
def test_repeats_and_runs_are_refused(password: str) -> None:
    with pytest.raises(PasswordTooGuessable, match="sequence"):
        check(password)


def test_a_broken_run_is_not_a_run() -> None:
    assert check("98765432109876") == "98765432109876"  # 0 → 9 breaks it; not on the list


@pytest.mark.parametrize(
    ("password", "what"),
    [
        ("my name is ASMITH ok", "your username"),
        ("alice.smith@example.com", "your email address"),
        ("hello alice.smith friends", "the name of your email address"),
    ],
)
def test_own_username_or_email_is_refused(password: str, what: str) -> None:
    with pytest.raises(PasswordMatchesIdentity) as caught:
        check(password)
    assert caught.value.description == f"a password must not contain {what}"
    assert caught.value.error == "password_contains_identity"


def test_very_short_usernames_do_not_refuse_unrelated_passwords() -> None:
    bob = Employee(id="e2", username="bo", email="b@x.io", first_name="B", last_name="O")
    assert check_new_password(password="bonfire on the bay", employee=bob, min_length=12)


def test_every_rule_error_is_a_400_password_error() -> None:
    for exc in (PasswordTooShort, PasswordTooLong, PasswordTooGuessable, PasswordMatchesIdentity):
        assert issubclass(exc, PasswordError)
        assert exc.status == 400


def test_the_bundled_list_is_loaded_and_folded() -> None:
    common = common_passwords()
    assert len(common) > 200
    assert {"password", "qwertyuiop", "iloveyou", "123456789012"} <= common
    assert all(entry == entry.casefold() and not entry.startswith("#") for entry in common)
