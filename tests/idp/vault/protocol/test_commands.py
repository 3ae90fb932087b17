"""The key's storage semantics through the protocol: PIN, lock, accounts, credentials, OTP."""

from __future__ import annotations

import subprocess

import pytest

from idp.vault.protocol import errors
from idp.vault.protocol import messages as m
from idp.vault.protocol.key import totp

SECRET = "JBSWY3DPEHPK3PXP"


def account(n: int, **over) -> m.SaveAccount:
    fields = {
        "id": f"acc-{n}",
        "name": f"Service {n}",
        "login": f"alice{n}",
        "password": f"pw-{n}",
        "urls": (f"https://s{n}.example.com",),
    }
    fields.update(over)
    return m.SaveAccount(**fields)


def test_accounts_saved_listed_read_and_deleted(pair):
    host = pair.linked()
    for n in range(3):
        pair.call(host, account(n))
    pair.call(host, account(1, password="changed", primary=True))
    page = pair.call(host, m.ListAccounts())
    assert [a.id for a in page.accounts] == ["acc-0", "acc-1", "acc-2"]
    assert page.accounts[1].primary and page.next is None
    assert pair.call(host, m.ReadCredentials("acc-1")) == m.Credentials("alice1", "changed")
    pair.call(host, m.DeleteAccount("acc-0"))
    with pytest.raises(errors.NoSuchAccount, match="acc-0"):
        pair.call(host, m.ReadCredentials("acc-0"))
    with pytest.raises(errors.NoSuchAccount):
        pair.call(host, m.DeleteAccount("acc-0"))
    # a refusal leaves the session usable
    assert pair.call(host, m.InfoCommand()).accounts == 2


def test_one_primary_account(pair):
    host = pair.linked()
    pair.call(host, account(0, primary=True))
    pair.call(host, account(1, primary=True))
    page = pair.call(host, m.ListAccounts())
    assert [a.primary for a in page.accounts] == [False, True]


def test_a_hundred_accounts_come_back_in_pages(pair):
    host = pair.linked()
    for n in range(100):
        pair.call(host, account(n, urls=tuple(f"https://{n}-{i}.example.com" for i in range(8))))
    ids, start = [], 0
    while True:
        page = pair.call(host, m.ListAccounts(start=start))
        ids += [a.id for a in page.accounts]
        if page.next is None:
            break
        start = page.next
    assert ids == [f"acc-{n}" for n in range(100)] and start > 0


def test_storage_full(pair):
    pair.storage.capacity = 2
    host = pair.linked()
    pair.call(host, account(0))
    pair.call(host, account(1))
    with pytest.raises(errors.StorageFull):
        pair.call(host, account(2))
    pair.call(host, account(1, password="replacing is fine"))


def test_otp_matches_oathtool(pair):
    host = pair.linked()
    pair.call(host, account(0, otp_secret=SECRET))
    at = 1_764_640_000
    code = pair.call(host, m.Otp("acc-0", at)).code
    expected = subprocess.run(
        ["oathtool", "--totp", "-b", f"--now=@{at}", SECRET],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert code == expected == totp(SECRET, at)
    pair.call(host, account(1))
    with pytest.raises(errors.NoOtpSecret):
        pair.call(host, m.Otp("acc-1", at))


@pytest.mark.parametrize("secret", ["not base32!", "JBSWY3DP"])
def test_bad_otp_secrets_are_refused(pair, secret):
    host = pair.linked()
    with pytest.raises(errors.MalformedMessage, match="otp_secret"):
        pair.call(host, account(0, otp_secret=secret))


def test_pin_set_verify_expire_and_lock_after_the_profiles_attempts(pair):
    host = pair.linked()
    pair.call(host, m.SetProfile(flags=int(m.ProfileFlag.PIN_STORAGE), pin_attempts=3))
    pair.call(host, account(0))
    with pytest.raises(errors.PinRequired):
        pair.call(host, m.ReadCredentials("acc-0"))
    with pytest.raises(errors.PinPolicy, match="at least 4 digits"):
        pair.call(host, m.SetPin("12a"))
    pair.call(host, m.SetPin("4321"))
    assert pair.call(host, m.ReadCredentials("acc-0")).login == "alice0"
    pair.clock.now += 24 * 3600
    with pytest.raises(errors.PinRequired):
        pair.call(host, m.ReadCredentials("acc-0"))
    with pytest.raises(errors.WrongPin, match="2 attempts left"):
        pair.call(host, m.VerifyPin("0000"))
    pair.call(host, m.VerifyPin("4321"))  # a right PIN resets the count
    with pytest.raises(errors.WrongPin, match="2 attempts left"):
        pair.call(host, m.VerifyPin("0000"))
    with pytest.raises(errors.WrongPin, match="1 attempts left"):
        pair.call(host, m.VerifyPin("0000"))
    with pytest.raises(errors.AttemptsExhausted, match="locked itself"):
        pair.call(host, m.VerifyPin("0000"))
    assert pair.call(host, m.InfoCommand()).locked
    with pytest.raises(errors.KeyLocked):
        pair.call(host, m.ReadCredentials("acc-0"))
    with pytest.raises(errors.KeyLocked, match="relock"):
        pair.call(host, m.Unlock("123456"))
    # The server relocks it with a new activation code; the right code unlocks, PIN reset.
    pair.call(host, m.Lock("654321"))
    pair.call(host, m.Unlock("654321"))
    info = pair.call(host, m.InfoCommand())
    assert not info.locked and not info.pin_set


def test_lock_with_code_three_attempts(pair):
    host = pair.linked()
    pair.call(host, m.Lock("111111"))
    with pytest.raises(errors.KeyLocked):
        pair.call(host, m.ListAccounts())
    with pytest.raises(errors.WrongCode, match="2 attempts left"):
        pair.call(host, m.Unlock("000000"))
    with pytest.raises(errors.WrongCode, match="1 attempts left"):
        pair.call(host, m.Unlock("000000"))
    with pytest.raises(errors.AttemptsExhausted):
        pair.call(host, m.Unlock("000000"))
    with pytest.raises(errors.AttemptsExhausted, match="new code"):
        pair.call(host, m.Unlock("111111"))
    with pytest.raises(errors.MalformedMessage, match="6 digits"):
        pair.call(host, m.Lock("12345"))
    pair.call(host, m.Lock("222222"))
    pair.call(host, m.Unlock("222222"))
    assert not pair.call(host, m.InfoCommand()).locked


def test_reading_credentials_needs_the_button_when_the_profile_says(pair):
    host = pair.linked()
    pair.call(host, m.SetProfile(flags=int(m.ProfileFlag.BUTTON_STORAGE)))
    pair.call(host, account(0))
    pair.presses.append(False)
    with pytest.raises(errors.ButtonNotPressed):
        pair.call(host, m.ReadCredentials("acc-0"))
    assert pair.call(host, m.ReadCredentials("acc-0")).password == "pw-0"


def test_connecting_needs_the_button_when_the_profile_says(pair):
    host = pair.linked()
    pair.call(host, m.SetProfile(flags=int(m.ProfileFlag.BUTTON_CONNECTION)))
    pair.presses.append(False)
    with pytest.raises(errors.ButtonNotPressed):
        pair.session(pair.master_key)
    assert pair.session(pair.master_key).ready


@pytest.mark.parametrize(
    "profile, match",
    [
        (m.SetProfile(flags=0x200), "bits 0-8"),
        (m.SetProfile(pin_length=3), "PIN length"),
        (m.SetProfile(pin_attempts=2), "at least 3"),
    ],
)
def test_bad_profiles_are_refused(pair, profile, match):
    host = pair.linked()
    with pytest.raises(errors.MalformedMessage, match=match):
        pair.call(host, profile)


def test_set_primary(pair):
    host = pair.linked()
    pair.call(host, account(0, primary=True))
    pair.call(host, account(1))
    pair.call(host, m.SetPrimary("acc-1"))
    assert [a.primary for a in pair.call(host, m.ListAccounts()).accounts] == [False, True]
    with pytest.raises(errors.NoSuchAccount):
        pair.call(host, m.SetPrimary("acc-9"))
