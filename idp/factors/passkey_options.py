"""Options for the two WebAuthn ceremonies (WebAuthn Level 3 §5.4 and §5.5), on py_webauthn.

The JSON returned here is what ``navigator.credentials.create`` / ``.get`` take as
``publicKey`` (after the browser script turns base64url members back into bytes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, cast

from webauthn import generate_authentication_options, generate_registration_options, options_to_json
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorAttachment,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from idp.factors.passkey_parse import b64url_decode
from idp.factors.registry import PasskeyCredential

UserVerification = Literal["required", "preferred", "discouraged"]
ResidentKey = Literal["required", "preferred"]
Attestation = Literal["none", "direct"]
Attachment = Literal["platform", "cross-platform"]

# Offered in this order of preference (§5.4 pubKeyCredParams; COSE ids from IANA).
SUPPORTED_ALGORITHMS: tuple[COSEAlgorithmIdentifier, ...] = (
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
)
# U2F-only keys (fido-u2f attestation, §8.6) and many "none" attestations carry this AAGUID;
# an allow-list admits them only when it lists this value explicitly.
ZERO_AAGUID = "00000000-0000-0000-0000-000000000000"
MIN_CHALLENGE_BYTES = 16  # §13.4.3
MAX_USER_ID_BYTES = 64  # §5.4.3 user.id


def ceremony_user_verification(*, configured: str, policy_requires: bool) -> UserVerification:
    """The ``userVerification`` one ceremony asks for; ``"required"`` also means the UV flag
    is enforced when the response is verified, so that options and checks never disagree.

    The strictest requirement that applies wins: the ``webauthn.user_verification`` setting
    or the policy's. At sign-in the policy is the one the relying party's request resolved to
    (the login ticket); at enrolment there is no relying party yet, so the caller passes the
    default policy's: a key enrolled under a weaker rule than sign-in applies would register
    and then never sign in (a U2F-only key cannot verify its user).
    """
    if configured not in ("required", "preferred", "discouraged"):
        raise ValueError(
            f"user_verification must be required, preferred or discouraged, got {configured!r}"
        )
    if policy_requires:
        return "required"
    return cast(UserVerification, configured)


def _descriptors(credentials: Sequence[PasskeyCredential]) -> list[PublicKeyCredentialDescriptor]:
    known = {t.value for t in AuthenticatorTransport}
    return [
        PublicKeyCredentialDescriptor(
            id=b64url_decode(cred.credential_id, "stored credential_id"),
            transports=[AuthenticatorTransport(t) for t in cred.transports if t in known] or None,
        )
        for cred in credentials
    ]


def _check_challenge_length(challenge: bytes) -> None:
    if len(challenge) < MIN_CHALLENGE_BYTES:
        raise ValueError(f"challenge must be >= {MIN_CHALLENGE_BYTES} random bytes (§13.4.3)")


def registration_options(
    *,
    rp_id: str,
    rp_name: str,
    user_id: bytes,
    user_name: str,
    user_display_name: str,
    exclude_credentials: Sequence[PasskeyCredential],
    user_verification: UserVerification,
    resident_key: ResidentKey,
    attestation: Attestation = "none",
    authenticator_attachment: Attachment | None = None,
    challenge: bytes,
    timeout_ms: int = 120_000,
) -> str:
    """Options JSON for ``navigator.credentials.create`` (§5.4).

    ``user_id`` is the opaque user handle (≤ 64 bytes, no personal data, §14.6.1);
    ``exclude_credentials`` stops the same authenticator from being registered twice.
    """
    _check_challenge_length(challenge)
    if not 1 <= len(user_id) <= MAX_USER_ID_BYTES:
        raise ValueError(f"user_id must be 1..{MAX_USER_ID_BYTES} bytes (§5.4.3)")
    options = generate_registration_options(
        rp_id=rp_id,
        rp_name=rp_name,
        user_id=user_id,
        user_name=user_name,
        user_display_name=user_display_name,
        challenge=challenge,
        timeout=timeout_ms,
        attestation=AttestationConveyancePreference(attestation),
        authenticator_selection=AuthenticatorSelectionCriteria(
            authenticator_attachment=(
                AuthenticatorAttachment(authenticator_attachment)
                if authenticator_attachment
                else None
            ),
            resident_key=ResidentKeyRequirement(resident_key),
            user_verification=UserVerificationRequirement(user_verification),
        ),
        exclude_credentials=_descriptors(exclude_credentials),
        supported_pub_key_algs=list(SUPPORTED_ALGORITHMS),
    )
    return options_to_json(options)


def authentication_options(
    *,
    rp_id: str,
    allow_credentials: Sequence[PasskeyCredential],
    user_verification: UserVerification,
    challenge: bytes,
    timeout_ms: int = 120_000,
) -> str:
    """Options JSON for ``navigator.credentials.get`` (§5.5).

    An empty ``allow_credentials`` asks for a discoverable credential (usernameless sign-in,
    conditional UI); a non-empty one lists the user's keys with their transports so that the
    browser can reach roaming keys (USB/NFC/BLE) and U2F-only keys.
    """
    _check_challenge_length(challenge)
    options = generate_authentication_options(
        rp_id=rp_id,
        challenge=challenge,
        timeout=timeout_ms,
        allow_credentials=_descriptors(allow_credentials),
        user_verification=UserVerificationRequirement(user_verification),
    )
    return options_to_json(options)
