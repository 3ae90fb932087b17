"""Passkey / FIDO2 security key ceremonies (WebAuthn Level 3), on py_webauthn.

One function per ceremony step, keyword-only, every expectation explicit; the caller owns
storage, sessions and challenges (:mod:`idp.factors.challenges`). Each check of §7.1
(registration) and §7.2 (authentication) is done here, in spec order, with its own exception
class (:mod:`idp.factors.passkey_errors`); py_webauthn then does the cryptography
(attestation statement formats of §8, the assertion signature). The sign-count rule is ours,
applied after the signature is known good, so that a forged assertion cannot raise a false
clone alarm.

Typical use::

    handle, challenge = issue_challenge(store, purpose="passkey.login", bind=flow_id)
    options = authentication_options(rp_id=..., allow_credentials=[], ...,
                                     challenge=challenge)
    # … browser …
    credential = repo.passkey(credential_id_of(response_json))   # None → UnknownCredential
    assertion = verify_authentication(response_json=response_json,
                                      expected_challenge=consume_challenge(...), ...)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from webauthn import verify_authentication_response, verify_registration_response
from webauthn.helpers import aaguid_to_string, decode_credential_public_key
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticationCredential,
    AuthenticatorAssertionResponse,
    AuthenticatorAttestationResponse,
    AuthenticatorData,
    RegistrationCredential,
)

from idp.factors.kinds import (
    AMR_FIDO,
    AMR_HARDWARE_KEY,
    AMR_SOFTWARE_KEY,
    PRESENCE_AMR,
    VERIFICATION_AMR,
    FactorKind,
    FactorUse,
)
from idp.factors.passkey_errors import (
    AaguidNotAllowed,
    BackupFlagsInconsistent,
    BadAttestation,
    BadSignature,
    ClonedAuthenticatorSuspected,
    MalformedResponse,
    PasskeyError,
    ResponseTooLarge,
    UnknownCredential,
    UnsupportedAlgorithm,
    UserPresenceMissing,
    UserVerificationMissing,
    WrongCeremonyType,
    WrongChallenge,
    WrongOrigin,
    WrongRpId,
)
from idp.factors.passkey_options import (
    SUPPORTED_ALGORITHMS,
    ZERO_AAGUID,
    authentication_options,
    ceremony_user_verification,
    registration_options,
)
from idp.factors.passkey_parse import (
    ClientData,
    credential_id_of,
    parse_attestation,
    parse_auth_data,
    parse_client_data,
    parse_credential,
    user_handle_of,
)
from idp.factors.registry import PasskeyCredential

__all__ = [
    "SUPPORTED_ALGORITHMS",
    "ZERO_AAGUID",
    "AaguidNotAllowed",
    "BackupFlagsInconsistent",
    "BadAttestation",
    "BadSignature",
    "ClonedAuthenticatorSuspected",
    "MalformedResponse",
    "PasskeyAssertion",
    "PasskeyError",
    "ResponseTooLarge",
    "UnknownCredential",
    "UnsupportedAlgorithm",
    "UserPresenceMissing",
    "UserVerificationMissing",
    "WrongCeremonyType",
    "WrongChallenge",
    "WrongOrigin",
    "WrongRpId",
    "authentication_options",
    "ceremony_user_verification",
    "credential_id_of",
    "factor_use",
    "registration_options",
    "user_handle_of",
    "verify_authentication",
    "verify_registration",
]

MAX_CREDENTIAL_ID_BYTES = 1023  # §7.1: refuse longer credential ids
_ERROR_DETAIL_CHARS = 80
# Said to the person enrolling, who can act on it; the sign-in message stays technical.
_UV_MISSING_AT_REGISTRATION = (
    "this security key cannot verify you (no PIN or biometric; the UV flag is unset); the "
    "sign-in policy requires it — use a passkey or a key with a PIN"
)


@dataclass(frozen=True)
class PasskeyAssertion:
    """A verified sign-in; the caller stores ``new_sign_count`` and ``backed_up``."""

    credential_id: str
    employee_id: str
    new_sign_count: int
    user_verified: bool
    backup_eligible: bool
    backed_up: bool
    factor_use: FactorUse


def _short(value: str) -> str:
    # Values from the client are echoed in messages: bound them.
    return repr(value[:_ERROR_DETAIL_CHARS])


def _check_client_data(
    client: ClientData,
    *,
    expected_type: str,
    expected_challenge: bytes,
    expected_origins: Sequence[str],
) -> None:
    """§7.1 / §7.2: verify C.type, C.challenge, C.origin and C.topOrigin."""
    if client.type != expected_type:
        raise WrongCeremonyType(
            f"expected clientData.type {expected_type!r}, got {_short(client.type)}"
        )
    if not hmac.compare_digest(client.challenge, expected_challenge):
        raise WrongChallenge("clientData.challenge is not the challenge issued for this ceremony")
    if client.origin not in expected_origins:
        raise WrongOrigin(
            f"expected origin in {list(expected_origins)}, got {_short(client.origin)}"
        )
    # We are never embedded in another site's iframe: refuse cross-origin ceremonies.
    if client.cross_origin or client.top_origin not in (None, client.origin):
        raise WrongOrigin(
            f"expected a top-level ceremony, got one embedded in {_short(client.top_origin or '?')}"
        )


def _check_auth_data(
    auth: AuthenticatorData,
    *,
    expected_rp_id: str,
    require_user_verification: bool,
    registering: bool,
) -> None:
    """§7.1 / §7.2: verify rpIdHash, UP, UV; §6.1: BS cannot be set without BE."""
    expected_hash = hashlib.sha256(expected_rp_id.encode("utf-8")).digest()
    if not hmac.compare_digest(auth.rp_id_hash, expected_hash):
        raise WrongRpId(
            f"expected authenticatorData.rpIdHash = SHA-256({expected_rp_id!r}), "
            f"got {auth.rp_id_hash.hex()[:16]}…"
        )
    if not auth.flags.up:
        raise UserPresenceMissing("expected the user-present (UP) flag, got it unset")
    if require_user_verification and not auth.flags.uv:
        raise UserVerificationMissing(
            _UV_MISSING_AT_REGISTRATION
            if registering
            else "expected user verification (PIN or biometric; UV flag), got presence only"
        )
    if auth.flags.bs and not auth.flags.be:
        raise BackupFlagsInconsistent("got backed-up (BS) on a credential not backup-eligible")


def verify_registration(
    *,
    response_json: str,
    expected_challenge: bytes,
    expected_rp_id: str,
    expected_origins: Sequence[str],
    require_user_verification: bool,
    allowed_aaguids: frozenset[str] | None,
    employee_id: str,
    name: str,
    now: dt.datetime,
) -> PasskeyCredential:
    """Verify a ``navigator.credentials.create`` response (§7.1); return the credential to store.

    ``allowed_aaguids`` (lower-case GUID strings) restricts authenticator models when set;
    U2F-only keys need :data:`ZERO_AAGUID` listed. The caller must still refuse a
    credential id that is already registered (§7.1, last steps).
    """
    parsed = parse_credential(response_json, binary_fields=("clientDataJSON", "attestationObject"))
    client_data_raw = parsed.fields["clientDataJSON"]
    _check_client_data(
        parse_client_data(client_data_raw),
        expected_type="webauthn.create",
        expected_challenge=expected_challenge,
        expected_origins=expected_origins,
    )
    attestation = parse_attestation(parsed.fields["attestationObject"])
    auth = attestation.auth_data
    _check_auth_data(
        auth,
        expected_rp_id=expected_rp_id,
        require_user_verification=require_user_verification,
        registering=True,
    )
    attested = auth.attested_credential_data
    if attested is None or len(attested.aaguid) != 16:
        raise MalformedResponse("expected attested credential data (AT flag), got none")
    if attested.credential_id != parsed.raw_id:
        raise MalformedResponse("expected rawId to equal the credential id in authenticatorData")
    if len(attested.credential_id) > MAX_CREDENTIAL_ID_BYTES:
        raise MalformedResponse(
            f"expected a credential id of at most {MAX_CREDENTIAL_ID_BYTES} bytes, "
            f"got {len(attested.credential_id)}"
        )
    _check_algorithm(attested.credential_public_key)
    _verify_attestation(
        parsed.credential_id,
        parsed.raw_id,
        client_data_raw,
        parsed.fields["attestationObject"],
        expected_challenge=expected_challenge,
        expected_rp_id=expected_rp_id,
        expected_origins=expected_origins,
        require_user_verification=require_user_verification,
    )
    aaguid = aaguid_to_string(attested.aaguid)
    if allowed_aaguids is not None and aaguid not in allowed_aaguids:
        raise AaguidNotAllowed(
            f"expected an authenticator model on the allow-list, got AAGUID {aaguid}"
            + (" (a U2F-only key or an anonymised passkey)" if aaguid == ZERO_AAGUID else "")
        )
    return PasskeyCredential(
        credential_id=parsed.credential_id,
        employee_id=employee_id,
        public_key=attested.credential_public_key,
        sign_count=auth.sign_count,
        aaguid=aaguid,
        transports=parsed.transports,
        backup_eligible=auth.flags.be,
        backed_up=auth.flags.bs,
        user_verified=auth.flags.uv,
        attestation_format=str(attestation.fmt),
        name=name,
        created_at=now,
    )


def _check_algorithm(cose_key: bytes) -> None:
    try:
        alg = decode_credential_public_key(cose_key).alg
    except (WebAuthnException, ValueError, TypeError, KeyError):
        raise MalformedResponse(
            "expected a COSE public key (§6.5.1.1), got an unreadable one"
        ) from None
    if alg not in SUPPORTED_ALGORITHMS:
        raise UnsupportedAlgorithm(
            f"expected one of COSE algorithms {[int(a) for a in SUPPORTED_ALGORITHMS]}, got {alg}"
        )


def _verify_attestation(
    credential_id: str,
    raw_id: bytes,
    client_data: bytes,
    attestation_object: bytes,
    *,
    expected_challenge: bytes,
    expected_rp_id: str,
    expected_origins: Sequence[str],
    require_user_verification: bool,
) -> None:
    """§7.1 attestation step: py_webauthn verifies the statement for its format (§8)."""
    try:
        verify_registration_response(
            credential=RegistrationCredential(
                id=credential_id,
                raw_id=raw_id,
                response=AuthenticatorAttestationResponse(
                    client_data_json=client_data, attestation_object=attestation_object
                ),
            ),
            expected_challenge=expected_challenge,
            expected_rp_id=expected_rp_id,
            expected_origin=list(expected_origins),
            require_user_verification=require_user_verification,
            supported_pub_key_algs=list(SUPPORTED_ALGORITHMS),
        )
    except (WebAuthnException, ValueError, TypeError, KeyError, IndexError) as exc:
        # Every earlier stage already passed, so what fails here is the statement itself.
        raise BadAttestation(
            f"expected a valid attestation statement, got: {str(exc)[:120]}"
        ) from None


def verify_authentication(
    *,
    response_json: str,
    expected_challenge: bytes,
    expected_rp_id: str,
    expected_origins: Sequence[str],
    credential: PasskeyCredential,
    require_user_verification: bool,
    now: dt.datetime,
    expected_employee_id: str | None = None,
    expected_user_handle: bytes | None = None,
) -> PasskeyAssertion:
    """Verify a ``navigator.credentials.get`` response against the stored ``credential`` (§7.2).

    ``expected_employee_id`` (sign-in by username) and ``expected_user_handle`` (the owner's
    user handle, compared when the authenticator returns one) bind the assertion to the
    account (§7.2, identify the user). A :class:`ClonedAuthenticatorSuspected` must be refused
    and audited by the caller.
    """
    parsed = parse_credential(
        response_json, binary_fields=("clientDataJSON", "authenticatorData", "signature")
    )
    _check_owner(
        parsed.credential_id,
        parsed.user_handle,
        credential,
        expected_employee_id=expected_employee_id,
        expected_user_handle=expected_user_handle,
    )
    _check_client_data(
        parse_client_data(parsed.fields["clientDataJSON"]),
        expected_type="webauthn.get",
        expected_challenge=expected_challenge,
        expected_origins=expected_origins,
    )
    auth = parse_auth_data(parsed.fields["authenticatorData"])
    _check_auth_data(
        auth,
        expected_rp_id=expected_rp_id,
        require_user_verification=require_user_verification,
        registering=False,
    )
    if auth.flags.be != credential.backup_eligible:
        raise BackupFlagsInconsistent(
            f"expected backup-eligible={credential.backup_eligible} as registered, "
            f"got {auth.flags.be}; re-register this passkey"
        )
    _verify_signature(
        parsed.credential_id,
        parsed.raw_id,
        parsed.fields,
        credential,
        expected_challenge=expected_challenge,
        expected_rp_id=expected_rp_id,
        expected_origins=expected_origins,
    )
    # §6.1.1: once either counter is non-zero it must strictly grow; two zeros mean the
    # authenticator does not count (most synced passkeys).
    stored = credential.sign_count
    if (auth.sign_count or stored) and auth.sign_count <= stored:
        raise ClonedAuthenticatorSuspected(
            f"expected a signature counter above {stored}, got {auth.sign_count}: "
            "this authenticator may have been cloned"
        )
    return PasskeyAssertion(
        credential_id=credential.credential_id,
        employee_id=credential.employee_id,
        new_sign_count=auth.sign_count,
        user_verified=auth.flags.uv,
        backup_eligible=auth.flags.be,
        backed_up=auth.flags.bs,
        factor_use=factor_use(credential, at=now, user_verified=auth.flags.uv),
    )


def factor_use(credential: PasskeyCredential, *, at: dt.datetime, user_verified: bool) -> FactorUse:
    """How a use of ``credential`` is described (RFC 8176): ``hwk`` for a device-bound key,
    ``swk`` for a synced passkey (backup-eligible, so its private key leaves the device), and
    ``user`` for the presence test every use passes. Only when the authenticator verified its
    user (UV flag) are ``fido``, the verification method and ``mfa`` added: a touch of a U2F
    key must not read like a passkey unlocked by PIN or biometric."""
    key = AMR_SOFTWARE_KEY if credential.backup_eligible else AMR_HARDWARE_KEY
    amr = (
        (AMR_FIDO, key, *PRESENCE_AMR, *VERIFICATION_AMR) if user_verified else (key, *PRESENCE_AMR)
    )
    return FactorUse(
        kind=FactorKind.PASSKEY,
        credential_id=credential.credential_id,
        at=at,
        user_verified=user_verified,
        amr=amr,
    )


def _check_owner(
    credential_id: str,
    user_handle: bytes | None,
    credential: PasskeyCredential,
    *,
    expected_employee_id: str | None,
    expected_user_handle: bytes | None,
) -> None:
    """§7.2: the credential must be the one looked up, and belong to the identified user."""
    if credential_id != credential.credential_id:
        raise UnknownCredential(
            f"expected credential {_short(credential.credential_id)}, got {_short(credential_id)}"
        )
    if expected_employee_id is not None and credential.employee_id != expected_employee_id:
        raise UnknownCredential("expected a credential of the signed-in user, got another's")
    if (
        expected_user_handle is not None
        and user_handle is not None
        and not hmac.compare_digest(user_handle, expected_user_handle)
    ):
        raise UnknownCredential("expected the credential owner's user handle, got another")


def _verify_signature(
    credential_id: str,
    raw_id: bytes,
    fields: dict[str, bytes],
    credential: PasskeyCredential,
    *,
    expected_challenge: bytes,
    expected_rp_id: str,
    expected_origins: Sequence[str],
) -> None:
    """§7.2 signature step, done by py_webauthn over authenticatorData ‖ SHA-256(clientData)."""
    try:
        verify_authentication_response(
            credential=AuthenticationCredential(
                id=credential_id,
                raw_id=raw_id,
                response=AuthenticatorAssertionResponse(
                    client_data_json=fields["clientDataJSON"],
                    authenticator_data=fields["authenticatorData"],
                    signature=fields["signature"],
                ),
            ),
            expected_challenge=expected_challenge,
            expected_rp_id=expected_rp_id,
            expected_origin=list(expected_origins),
            credential_public_key=credential.public_key,
            # Our own counter rule runs after the signature; 0 disables py_webauthn's.
            credential_current_sign_count=0,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError, IndexError) as exc:
        raise BadSignature(
            f"expected a signature by the registered key, got one that does not verify "
            f"({str(exc)[:80]})"
        ) from None
