"""Typed failures of the passkey ceremonies: one class per verification stage.

Each class names the WebAuthn Level 3 rule it enforces. Messages say what was expected and
what arrived, never key material. All derive from :class:`PasskeyError`, so an adapter can
render any of them with ``exc.to_dict()`` and ``exc.status``.
"""

from __future__ import annotations

from idp.errors import IdpError


class PasskeyError(IdpError):
    """Root of every passkey ceremony failure."""

    error = "passkey_rejected"
    status = 400


class MalformedResponse(PasskeyError):
    """Not a well-formed PublicKeyCredential JSON / base64url / clientDataJSON / CBOR."""

    error = "invalid_request"


class ResponseTooLarge(MalformedResponse):
    """Larger than any real authenticator response; refused before parsing."""

    error = "request_too_large"
    status = 413


class WrongCeremonyType(PasskeyError):
    """clientData.type is not ``webauthn.create`` / ``webauthn.get`` as expected (§7.1, §7.2)."""


class WrongChallenge(PasskeyError):
    """clientData.challenge is not the challenge this ceremony issued (§7.1, §7.2, §13.4.3)."""


class WrongOrigin(PasskeyError):
    """clientData.origin is not one of ours, or the call came from a cross-origin iframe."""


class WrongRpId(PasskeyError):
    """authenticatorData.rpIdHash is not SHA-256 of our RP ID (§7.1, §7.2, §6.1)."""


class UserPresenceMissing(PasskeyError):
    """The UP flag is not set (§7.1, §7.2)."""

    status = 401


class UserVerificationMissing(PasskeyError):
    """The UV flag is not set while policy requires user verification (§7.1, §7.2)."""

    error = "user_verification_required"
    status = 401


class UnsupportedAlgorithm(PasskeyError):
    """The credential public key uses an algorithm we did not offer (§7.1)."""


class AaguidNotAllowed(PasskeyError):
    """The authenticator model (AAGUID) is not on the configured allow-list."""

    status = 403


class UnknownCredential(PasskeyError):
    """The assertion names a credential that is not registered (to this user) (§7.2)."""

    error = "unknown_credential"
    status = 401


class BackupFlagsInconsistent(PasskeyError):
    """BS set without BE, or BE differs from what was registered (§6.1.3, §7.2)."""

    status = 401


class ClonedAuthenticatorSuspected(PasskeyError):
    """The signature counter did not advance (§6.1.1): refuse, and audit as a possible clone."""

    error = "cloned_authenticator_suspected"
    status = 401


class BadSignature(PasskeyError):
    """The assertion signature does not verify with the registered public key (§7.2)."""

    error = "invalid_signature"
    status = 401


class BadAttestation(PasskeyError):
    """The attestation statement does not verify for its format (§7.1, §8)."""

    error = "invalid_attestation"
