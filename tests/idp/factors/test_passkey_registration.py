"""Registration ceremony (WebAuthn Level 3 §7.1) and its options (§5.4)."""

from __future__ import annotations

import json
import os
import uuid

import cbor2
import pytest

from idp.factors import passkey
from idp.factors.passkey import (
    ZERO_AAGUID,
    AaguidNotAllowed,
    BackupFlagsInconsistent,
    BadAttestation,
    MalformedResponse,
    PasskeyError,
    ResponseTooLarge,
    UnsupportedAlgorithm,
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
    client_data,
    mutate,
    options_for_soft,
    soft_device,
    soft_to_json,
    unb64u,
)

CHALLENGE = bytes(range(32))


def _verify(response_json: str, **overrides: object) -> PasskeyCredential:
    kwargs: dict[str, object] = {
        "response_json": response_json,
        "expected_challenge": CHALLENGE,
        "expected_rp_id": RP_ID,
        "expected_origins": [ORIGIN],
        "require_user_verification": False,
        "allowed_aaguids": None,
        "employee_id": "emp-1",
        "name": "My key",
        "now": NOW,
    }
    kwargs.update(overrides)
    return passkey.verify_registration(**kwargs)  # type: ignore[arg-type]


def _options(**overrides: object) -> dict:
    kwargs: dict[str, object] = {
        "rp_id": RP_ID,
        "rp_name": "Hideez IdP",
        "user_id": b"employee-1",
        "user_name": "alice",
        "user_display_name": "Alice Example",
        "exclude_credentials": [],
        "user_verification": "preferred",
        "resident_key": "required",
        "challenge": CHALLENGE,
    }
    kwargs.update(overrides)
    return json.loads(passkey.registration_options(**kwargs))  # type: ignore[arg-type]


# -- options (§5.4) ----------------------------------------------------------------------------


def test_registration_options_carry_every_expectation() -> None:
    stored = _verify(CraftedKey().register(CHALLENGE, transports=("usb", "nfc")))
    options = _options(
        exclude_credentials=[stored],
        user_verification="required",
        authenticator_attachment="cross-platform",
        attestation="direct",
    )
    assert options["rp"] == {"id": RP_ID, "name": "Hideez IdP"}
    assert unb64u(options["user"]["id"]) == b"employee-1"
    assert options["user"]["name"] == "alice"
    assert options["user"]["displayName"] == "Alice Example"
    assert unb64u(options["challenge"]) == CHALLENGE
    assert [p["alg"] for p in options["pubKeyCredParams"]] == [-7, -8, -257]  # ES256, EdDSA, RS256
    assert options["attestation"] == "direct"
    selection = options["authenticatorSelection"]
    assert selection["residentKey"] == "required" and selection["requireResidentKey"] is True
    assert selection["userVerification"] == "required"
    assert selection["authenticatorAttachment"] == "cross-platform"
    assert options["excludeCredentials"] == [
        {"id": stored.credential_id, "type": "public-key", "transports": ["usb", "nfc"]}
    ]


def test_registration_options_default_to_attestation_none() -> None:
    options = _options(resident_key="preferred")
    assert options["attestation"] == "none"
    assert options["authenticatorSelection"]["residentKey"] == "preferred"
    assert "authenticatorAttachment" not in options["authenticatorSelection"]


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"challenge": b"short"}, "13.4.3"),
        ({"user_id": b"x" * 65}, "user_id"),
        ({"user_id": b""}, "user_id"),
    ],
)
def test_registration_options_refuse_programming_errors(overrides: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        _options(**overrides)


# -- happy paths -------------------------------------------------------------------------------


def test_soft_webauthn_registers_with_attestation_none() -> None:
    device = soft_device()
    created = device.create(options_for_soft(json.dumps(_options())), ORIGIN)
    credential = _verify(soft_to_json(created))
    assert credential.credential_id == b64u(device.credential_id)
    assert credential.employee_id == "emp-1" and credential.name == "My key"
    assert credential.attestation_format == "none"
    assert credential.aaguid == ZERO_AAGUID
    assert credential.sign_count == 0
    assert credential.user_verified is False
    assert credential.backup_eligible is False and credential.backed_up is False
    assert credential.created_at == NOW
    assert cbor2.loads(credential.public_key)[3] == -7


def test_soft_webauthn_refused_when_uv_required() -> None:
    # soft-webauthn never sets UV (§7.1: verify UV when required).
    created = soft_device().create(options_for_soft(json.dumps(_options())), ORIGIN)
    with pytest.raises(UserVerificationMissing, match=r"cannot verify you .*policy requires it"):
        _verify(soft_to_json(created), require_user_verification=True)


def test_flags_transports_and_aaguid_are_kept() -> None:
    key = CraftedKey()
    credential = _verify(
        key.register(
            CHALLENGE, flags=UP | UV | BE | BS, transports=("internal", "hybrid", "bogus")
        ),
        require_user_verification=True,
    )
    assert credential.user_verified is True
    assert credential.backup_eligible is True and credential.backed_up is True
    assert credential.transports == ("internal", "hybrid")  # unknown transport dropped (§5.8.4)
    assert credential.aaguid == key.aaguid_str


@pytest.mark.parametrize("alg", [-7, -8, -257])
def test_es256_eddsa_rs256_keys_register(alg: int) -> None:
    credential = _verify(CraftedKey(alg=alg).register(CHALLENGE))
    assert cbor2.loads(credential.public_key)[3] == alg


def test_algorithm_not_offered_is_refused() -> None:
    with pytest.raises(
        UnsupportedAlgorithm, match=r"expected one of COSE algorithms \[-7, -8, -257\], got -35"
    ):
        _verify(CraftedKey(alg=-35).register(CHALLENGE))


# -- attestation formats (§8.2 packed, §8.6 fido-u2f) --------------------------------------------


def test_packed_self_attestation_verifies() -> None:
    credential = _verify(CraftedKey().register(CHALLENGE, fmt="packed", flags=UP | UV))
    assert credential.attestation_format == "packed"


def test_packed_attestation_with_tampered_signature_is_refused() -> None:
    key = CraftedKey()
    good = json.loads(key.register(CHALLENGE, fmt="packed"))
    att = cbor2.loads(unb64u(good["response"]["attestationObject"]))
    sig = bytearray(att["attStmt"]["sig"])
    sig[-3] ^= 0x01
    att["attStmt"]["sig"] = bytes(sig)
    tampered = mutate(json.dumps(good), ("response", "attestationObject"), b64u(cbor2.dumps(att)))
    with pytest.raises(BadAttestation, match="expected a valid attestation statement"):
        _verify(tampered)


def test_fido_u2f_key_registers_when_zero_aaguid_is_allowed() -> None:
    # A U2F-only (CTAP1) key: fido-u2f attestation, zero AAGUID, P-256 key (§8.6).
    key = CraftedKey(aaguid=bytes(16))
    credential = _verify(
        key.register(CHALLENGE, fmt="fido-u2f"),
        allowed_aaguids=frozenset({ZERO_AAGUID}),
    )
    assert credential.attestation_format == "fido-u2f"
    assert credential.aaguid == ZERO_AAGUID


def test_fido_u2f_key_refused_by_an_allow_list_without_the_zero_aaguid() -> None:
    key = CraftedKey(aaguid=bytes(16))
    with pytest.raises(AaguidNotAllowed, match="U2F-only key"):
        _verify(
            key.register(CHALLENGE, fmt="fido-u2f"),
            allowed_aaguids=frozenset({"11111111-2222-3333-4444-555555555555"}),
        )


def test_fido_u2f_with_a_signature_over_another_credential_is_refused() -> None:
    key = CraftedKey(aaguid=bytes(16))
    good = json.loads(key.register(CHALLENGE, fmt="fido-u2f"))
    att = cbor2.loads(unb64u(good["response"]["attestationObject"]))
    # Re-sign nothing, but change the client data: the U2F signature covers its hash.
    other_cdata = client_data("webauthn.create", CHALLENGE, ORIGIN, extra="x")
    tampered = mutate(json.dumps(good), ("response", "clientDataJSON"), b64u(other_cdata))
    assert att["fmt"] == "fido-u2f"
    with pytest.raises(BadAttestation):
        _verify(tampered)


def test_aaguid_allow_list() -> None:
    key = CraftedKey()
    allowed = _verify(key.register(CHALLENGE), allowed_aaguids=frozenset({key.aaguid_str}))
    assert allowed.aaguid == key.aaguid_str
    with pytest.raises(AaguidNotAllowed, match=f"got AAGUID {key.aaguid_str}") as err:
        _verify(key.register(CHALLENGE), allowed_aaguids=frozenset({str(uuid.uuid4())}))
    assert err.value.status == 403


# -- hostile input -----------------------------------------------------------------------------


def test_wrong_origin() -> None:
    with pytest.raises(WrongOrigin, match=r"expected origin in.*got 'https://evil\.example'"):
        _verify(CraftedKey().register(CHALLENGE, origin="https://evil.example"))


def test_cross_origin_iframe_is_refused() -> None:
    response = CraftedKey().register(
        CHALLENGE, client_extra={"crossOrigin": True, "topOrigin": "https://evil.example"}
    )
    with pytest.raises(WrongOrigin, match="top-level"):
        _verify(response)


def test_wrong_rp_id() -> None:
    with pytest.raises(WrongRpId, match=r"SHA-256\('localhost'\)"):
        _verify(CraftedKey().register(CHALLENGE, rp_id="evil.example"))


def test_wrong_challenge() -> None:
    with pytest.raises(WrongChallenge):
        _verify(CraftedKey().register(os.urandom(32)))


def test_assertion_type_presented_for_registration() -> None:
    with pytest.raises(
        WrongCeremonyType, match=r"clientData\.type 'webauthn\.create', got 'webauthn\.get'"
    ):
        _verify(CraftedKey().register(CHALLENGE, kind="webauthn.get"))


def test_user_presence_missing() -> None:
    with pytest.raises(UserPresenceMissing):
        _verify(CraftedKey().register(CHALLENGE, flags=UV))


def test_backed_up_without_backup_eligible_is_refused() -> None:
    with pytest.raises(BackupFlagsInconsistent):
        _verify(CraftedKey().register(CHALLENGE, flags=UP | BS))


def test_raw_id_must_match_the_attested_credential_id() -> None:
    response = CraftedKey().register(CHALLENGE)
    other = b64u(os.urandom(32))
    response = mutate(mutate(response, ("id",), other), ("rawId",), other)
    with pytest.raises(MalformedResponse, match="rawId"):
        _verify(response)


def test_oversized_response() -> None:
    response = mutate(CraftedKey().register(CHALLENGE), ("padding",), "A" * 70_000)
    with pytest.raises(ResponseTooLarge) as err:
        _verify(response)
    assert err.value.status == 413


@pytest.mark.parametrize(
    "mangle",
    [
        lambda r: "{not json",
        lambda r: "[]",
        lambda r: "null",
        lambda r: '"' + "[" * 50_000 + '"',
        lambda r: "[" * 30_000,
        lambda r: mutate(r, ("type",), "password"),
        lambda r: mutate(r, ("rawId",), "!!!not base64!!!"),
        lambda r: mutate(r, ("rawId",), 12345),
        lambda r: mutate(r, ("id",), "AAAA"),
        lambda r: mutate(r, ("response",), "nope"),
        lambda r: mutate(r, ("response", "clientDataJSON"), "a"),
        lambda r: mutate(r, ("response", "clientDataJSON"), b64u(b"\xff\xfe not utf8")),
        lambda r: mutate(r, ("response", "clientDataJSON"), b64u(b"[1,2]")),
        lambda r: mutate(r, ("response", "clientDataJSON"), b64u(b'{"type": 1}')),
        lambda r: mutate(
            r,
            ("response", "clientDataJSON"),
            b64u(b'{"type":"webauthn.create","origin":"x","challenge":"%%%"}'),
        ),
        lambda r: mutate(r, ("response", "attestationObject"), b64u(b"\xff\x00garbage cbor")),
        lambda r: mutate(r, ("response", "attestationObject"), b64u(cbor2.dumps([1, 2]))),
        lambda r: mutate(r, ("response", "attestationObject"), b64u(cbor2.dumps({"fmt": "none"}))),
        lambda r: mutate(
            r,
            ("response", "attestationObject"),
            b64u(cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": b"\x00" * 10})),
        ),
        lambda r: mutate(r, ("response", "transports"), "usb"),
    ],
)
def test_malformed_responses_are_typed_errors(mangle: object) -> None:
    response = mangle(CraftedKey().register(CHALLENGE))  # type: ignore[operator]
    with pytest.raises(MalformedResponse) as err:
        _verify(response)
    assert err.value.status in (400, 413)
    assert err.value.to_dict()["error"] in ("invalid_request", "request_too_large")


def test_truncated_authenticator_data_is_malformed() -> None:
    key = CraftedKey()
    auth = key.auth_data(UP, attested=True)[:-20]  # cut into the COSE key
    att = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth})
    response = key.registration_json(client_data("webauthn.create", CHALLENGE), att)
    with pytest.raises(MalformedResponse):
        _verify(response)


def test_none_attestation_with_a_statement_is_refused() -> None:
    key = CraftedKey()
    cdata = client_data("webauthn.create", CHALLENGE)
    att = cbor2.dumps(
        {"fmt": "none", "attStmt": {"sig": b"x"}, "authData": key.auth_data(UP, attested=True)}
    )
    with pytest.raises(BadAttestation):
        _verify(key.registration_json(cdata, att))


def test_every_error_is_a_passkey_error_with_a_wire_form() -> None:
    with pytest.raises(PasskeyError) as err:
        _verify(CraftedKey().register(CHALLENGE, origin="https://evil.example"))
    wire = err.value.to_dict()
    assert set(wire) == {"error", "error_description", "error_id"}
    assert "expected" in wire["error_description"]
