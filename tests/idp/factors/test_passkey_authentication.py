"""Authentication ceremony (WebAuthn Level 3 §7.2), its options (§5.5) and the id look-ups."""

from __future__ import annotations

import dataclasses
import json
import os

import pytest

from idp.factors import passkey
from idp.factors.kinds import FactorKind
from idp.factors.passkey import (
    BackupFlagsInconsistent,
    BadSignature,
    ClonedAuthenticatorSuspected,
    MalformedResponse,
    PasskeyAssertion,
    ResponseTooLarge,
    UnknownCredential,
    UserPresenceMissing,
    UserVerificationMissing,
    WrongCeremonyType,
    WrongChallenge,
    WrongOrigin,
    WrongRpId,
)
from idp.factors.registry import PasskeyCredential
from tests.idp.factors.passkey_fakes import (
    BE,
    BS,
    NOW,
    ORIGIN,
    RP_ID,
    UP,
    UV,
    CraftedKey,
    b64u,
    mutate,
    options_for_soft,
    soft_device,
    soft_to_json,
    unb64u,
)

REG_CHALLENGE = b"r" * 32
CHALLENGE = bytes(range(100, 132))


def _register(key: CraftedKey, flags: int = UP) -> PasskeyCredential:
    return passkey.verify_registration(
        response_json=key.register(REG_CHALLENGE, flags=flags),
        expected_challenge=REG_CHALLENGE,
        expected_rp_id=RP_ID,
        expected_origins=[ORIGIN],
        require_user_verification=False,
        allowed_aaguids=None,
        employee_id="emp-1",
        name="key",
        now=NOW,
    )


def _verify(
    response_json: str, credential: PasskeyCredential, **overrides: object
) -> PasskeyAssertion:
    kwargs: dict[str, object] = {
        "response_json": response_json,
        "expected_challenge": CHALLENGE,
        "expected_rp_id": RP_ID,
        "expected_origins": [ORIGIN],
        "credential": credential,
        "require_user_verification": False,
        "now": NOW,
    }
    kwargs.update(overrides)
    return passkey.verify_authentication(**kwargs)  # type: ignore[arg-type]


@pytest.fixture
def key() -> CraftedKey:
    return CraftedKey()


@pytest.fixture
def stored(key: CraftedKey) -> PasskeyCredential:
    return _register(key)


# -- options (§5.5) ----------------------------------------------------------------------------


def test_usernameless_options_have_an_empty_allow_list() -> None:
    options = json.loads(
        passkey.authentication_options(
            rp_id=RP_ID, allow_credentials=[], user_verification="required", challenge=CHALLENGE
        )
    )
    assert options["rpId"] == RP_ID
    assert options["allowCredentials"] == []
    assert options["userVerification"] == "required"
    assert unb64u(options["challenge"]) == CHALLENGE


def test_username_options_list_the_keys_with_transports(stored: PasskeyCredential) -> None:
    u2f = dataclasses.replace(stored, credential_id=b64u(b"u2f-key"), transports=())
    options = json.loads(
        passkey.authentication_options(
            rp_id=RP_ID,
            allow_credentials=[stored, u2f],
            user_verification="discouraged",
            challenge=CHALLENGE,
        )
    )
    assert options["allowCredentials"] == [
        {"id": stored.credential_id, "type": "public-key", "transports": ["usb"]},
        {"id": b64u(b"u2f-key"), "type": "public-key"},
    ]
    assert options["userVerification"] == "discouraged"


def test_authentication_options_refuse_a_short_challenge() -> None:
    with pytest.raises(ValueError, match=r"13\.4\.3"):
        passkey.authentication_options(
            rp_id=RP_ID, allow_credentials=[], user_verification="preferred", challenge=b"1234"
        )


# -- happy paths -------------------------------------------------------------------------------


def test_soft_webauthn_full_ceremony() -> None:
    device = soft_device()
    reg_options = passkey.registration_options(
        rp_id=RP_ID,
        rp_name="IdP",
        user_id=b"emp-1",
        user_name="alice",
        user_display_name="Alice",
        exclude_credentials=[],
        user_verification="preferred",
        resident_key="required",
        challenge=REG_CHALLENGE,
    )
    credential = passkey.verify_registration(
        response_json=soft_to_json(device.create(options_for_soft(reg_options), ORIGIN)),
        expected_challenge=REG_CHALLENGE,
        expected_rp_id=RP_ID,
        expected_origins=[ORIGIN],
        require_user_verification=False,
        allowed_aaguids=None,
        employee_id="emp-1",
        name="soft",
        now=NOW,
    )
    auth_options = passkey.authentication_options(
        rp_id=RP_ID, allow_credentials=[], user_verification="preferred", challenge=CHALLENGE
    )
    response = soft_to_json(device.get(options_for_soft(auth_options), ORIGIN))
    assert passkey.credential_id_of(response) == credential.credential_id
    assert passkey.user_handle_of(response) == b"emp-1"
    result = _verify(response, credential, expected_user_handle=b"emp-1")
    assert result.credential_id == credential.credential_id
    assert result.employee_id == "emp-1"
    assert result.new_sign_count == 1
    assert result.user_verified is False
    use = result.factor_use
    assert use.kind is FactorKind.PASSKEY and use.at == NOW
    assert use.amr == ("hwk", "user")  # device-bound, presence only: no verification method
    # Second sign-in with the updated counter (§6.1.1).
    stored = dataclasses.replace(credential, sign_count=result.new_sign_count)
    second = soft_to_json(device.get(options_for_soft(auth_options), ORIGIN))
    assert _verify(second, stored).new_sign_count == 2
    # soft-webauthn never sets UV: a UV-required sign-in is refused (§7.2).
    third = soft_to_json(device.get(options_for_soft(auth_options), ORIGIN))
    with pytest.raises(UserVerificationMissing):
        _verify(third, stored, require_user_verification=True)


@pytest.mark.parametrize("alg", [-7, -8, -257])
def test_each_algorithm_signs_in(alg: int) -> None:
    key = CraftedKey(alg=alg)
    credential = _register(key)
    result = _verify(
        key.assert_(CHALLENGE, flags=UP | UV), credential, require_user_verification=True
    )
    assert result.user_verified is True and result.factor_use.user_verified is True


def test_synced_passkey_is_swk_and_reports_backup_state() -> None:
    key = CraftedKey()
    credential = _register(key, flags=UP | UV | BE)
    result = _verify(key.assert_(CHALLENGE, flags=UP | UV | BE | BS, count=0), credential)
    assert result.factor_use.amr == ("fido", "swk", "user", "pin", "mfa")
    assert result.backup_eligible is True and result.backed_up is True


def test_counters_that_stay_zero_are_accepted(key: CraftedKey, stored: PasskeyCredential) -> None:
    # §6.1.1: authenticators that do not count send 0 every time.
    assert _verify(key.assert_(CHALLENGE, count=0), stored).new_sign_count == 0
    assert _verify(key.assert_(CHALLENGE, count=0), stored).new_sign_count == 0


# -- clone detection (§6.1.1) -----------------------------------------------------------------


@pytest.mark.parametrize(("stored_count", "new_count"), [(5, 5), (5, 3), (5, 0), (0xFFFFFFFF, 1)])
def test_counter_that_does_not_grow_suggests_a_clone(
    key: CraftedKey, stored: PasskeyCredential, stored_count: int, new_count: int
) -> None:
    credential = dataclasses.replace(stored, sign_count=stored_count)
    with pytest.raises(
        ClonedAuthenticatorSuspected, match=f"above {stored_count}, got {new_count}"
    ) as err:
        _verify(key.assert_(CHALLENGE, count=new_count), credential)
    assert err.value.error == "cloned_authenticator_suspected" and err.value.status == 401


def test_replayed_assertion_is_caught_by_the_counter(
    key: CraftedKey, stored: PasskeyCredential
) -> None:
    response = key.assert_(CHALLENGE, count=7)
    result = _verify(response, stored)
    updated = dataclasses.replace(stored, sign_count=result.new_sign_count)
    with pytest.raises(ClonedAuthenticatorSuspected):
        _verify(response, updated)


def test_forged_assertion_with_low_counter_is_a_bad_signature_not_a_clone(
    key: CraftedKey, stored: PasskeyCredential
) -> None:
    # The counter is only judged once the signature is good: a forger cannot raise clone alarms.
    credential = dataclasses.replace(stored, sign_count=10)
    forged = mutate(
        key.assert_(CHALLENGE, count=1), ("response", "signature"), b64u(os.urandom(70))
    )
    with pytest.raises(BadSignature):
        _verify(forged, credential)


# -- signature and ownership (§7.2) ------------------------------------------------------------


def test_signature_by_another_key(stored: PasskeyCredential) -> None:
    impostor = CraftedKey(credential_id=unb64u(stored.credential_id))  # same id, other key
    with pytest.raises(BadSignature, match="does not verify"):
        _verify(impostor.assert_(CHALLENGE), stored)


def test_tampered_authenticator_data_breaks_the_signature(
    key: CraftedKey, stored: PasskeyCredential
) -> None:
    response = json.loads(key.assert_(CHALLENGE, flags=UP))
    auth = bytearray(unb64u(response["response"]["authenticatorData"]))
    auth[32] |= UV  # claim user verification after the fact
    response["response"]["authenticatorData"] = b64u(bytes(auth))
    with pytest.raises(BadSignature):
        _verify(json.dumps(response), stored, require_user_verification=True)


def test_credential_other_than_the_one_looked_up(stored: PasskeyCredential) -> None:
    with pytest.raises(UnknownCredential, match="expected credential"):
        _verify(CraftedKey().assert_(CHALLENGE), stored)


def test_credential_of_another_employee(key: CraftedKey, stored: PasskeyCredential) -> None:
    with pytest.raises(UnknownCredential, match="signed-in user"):
        _verify(key.assert_(CHALLENGE), stored, expected_employee_id="emp-2")


def test_user_handle_of_another_account(key: CraftedKey, stored: PasskeyCredential) -> None:
    with pytest.raises(UnknownCredential, match="user handle"):
        _verify(key.assert_(CHALLENGE), stored, expected_user_handle=b"employee-2")


def test_absent_user_handle_is_fine_for_u2f_keys() -> None:
    # U2F-only keys return no userHandle; the owner check then rests on the credential id.
    key = CraftedKey(user_handle=None)
    credential = _register(key)
    result = _verify(key.assert_(CHALLENGE), credential, expected_user_handle=b"employee-1")
    assert result.employee_id == "emp-1"


def test_backup_eligibility_must_not_change(key: CraftedKey, stored: PasskeyCredential) -> None:
    with pytest.raises(BackupFlagsInconsistent, match="backup-eligible=False"):
        _verify(key.assert_(CHALLENGE, flags=UP | BE), stored)


# -- client data and authenticator data (§7.2) --------------------------------------------------


def test_wrong_origin(key: CraftedKey, stored: PasskeyCredential) -> None:
    with pytest.raises(WrongOrigin, match="'http://localhost:9999'"):
        _verify(key.assert_(CHALLENGE, origin="http://localhost:9999"), stored)


def test_wrong_rp_id(key: CraftedKey, stored: PasskeyCredential) -> None:
    with pytest.raises(WrongRpId):
        _verify(key.assert_(CHALLENGE, rp_id="example.com"), stored)


def test_wrong_challenge(key: CraftedKey, stored: PasskeyCredential) -> None:
    with pytest.raises(WrongChallenge):
        _verify(key.assert_(os.urandom(32)), stored)


def test_registration_type_presented_for_sign_in(
    key: CraftedKey, stored: PasskeyCredential
) -> None:
    with pytest.raises(WrongCeremonyType, match=r"'webauthn\.get', got 'webauthn\.create'"):
        _verify(key.assert_(CHALLENGE, kind="webauthn.create"), stored)


def test_user_presence_missing(key: CraftedKey, stored: PasskeyCredential) -> None:
    with pytest.raises(UserPresenceMissing):
        _verify(key.assert_(CHALLENGE, flags=0), stored)


def test_uv_missing_when_required(key: CraftedKey, stored: PasskeyCredential) -> None:
    with pytest.raises(UserVerificationMissing) as err:
        _verify(key.assert_(CHALLENGE, flags=UP), stored, require_user_verification=True)
    assert err.value.error == "user_verification_required"


def test_oversized_assertion(key: CraftedKey, stored: PasskeyCredential) -> None:
    with pytest.raises(ResponseTooLarge):
        _verify(mutate(key.assert_(CHALLENGE), ("x",), "A" * 70_000), stored)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda r: r[:-5],
        lambda r: mutate(r, ("response", "signature"), "***"),
        lambda r: mutate(r, ("response", "signature"), None),
        lambda r: mutate(r, ("response", "authenticatorData"), b64u(b"\x00" * 36)),
        lambda r: mutate(r, ("response", "authenticatorData"), b64u(b"\x00" * 37 + b"\xff")),
        lambda r: mutate(r, ("response", "clientDataJSON"), b64u(b"not json")),
        lambda r: mutate(r, ("response", "userHandle"), 42),
        lambda r: mutate(r, ("response",), []),
    ],
)
def test_malformed_assertions(key: CraftedKey, stored: PasskeyCredential, mangle: object) -> None:
    with pytest.raises(MalformedResponse):
        _verify(mangle(key.assert_(CHALLENGE)), stored)  # type: ignore[operator]


# -- id look-ups before verification ------------------------------------------------------------


def test_id_lookups(key: CraftedKey, stored: PasskeyCredential) -> None:
    response = key.assert_(CHALLENGE)
    assert passkey.credential_id_of(response) == stored.credential_id
    assert passkey.user_handle_of(response) == b"employee-1"
    assert passkey.user_handle_of(mutate(response, ("response", "userHandle"), None)) is None
    assert passkey.user_handle_of(mutate(response, ("response", "userHandle"), "")) is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        "[]",
        "{}",
        '{"id": "AAAA"}',
        '{"type": "public-key", "rawId": "%%"}',
        '{"type": "public-key", "id": "AAAA", "rawId": "AAAB"}',
        '{"type": "public-key", "id": "", "rawId": ""}',
        "x" * 70_000,
    ],
)
def test_credential_id_of_malformed_input(text: str) -> None:
    with pytest.raises(MalformedResponse):
        passkey.credential_id_of(text)


@pytest.mark.parametrize(
    "text",
    [
        "nope",
        '{"response": 1}',
        '{"response": {"userHandle": "%%"}}',
        '{"response": {"userHandle": 7}}',
    ],
)
def test_user_handle_of_malformed_input(text: str) -> None:
    with pytest.raises(MalformedResponse):
        passkey.user_handle_of(text)
