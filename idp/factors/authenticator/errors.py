"""The typed failures of the authenticator factor, each with its wire form."""

from __future__ import annotations

from idp.errors import AccessDenied, Conflict, IdpError, InvalidRequest, NotFound, Unauthorized


class DeviceRequestError(Unauthorized):
    """A device-signed request did not verify (signature, time, nonce or device)."""

    error = "device_request_invalid"


class UnknownDevice(DeviceRequestError):
    error = "device_unknown"


class DeviceDisabled(DeviceRequestError):
    error = "device_disabled"
    status = 403


class BadDeviceSignature(DeviceRequestError):
    error = "device_signature_invalid"


class StaleDeviceRequest(DeviceRequestError):
    error = "device_request_stale"


class ReplayedDeviceRequest(DeviceRequestError):
    error = "replay_detected"


class InvalidDeviceInput(InvalidRequest):
    """A field the app sent is malformed or too large; nothing was stored."""

    error = "invalid_device_input"


class DeviceIdTaken(Conflict):
    """Another employee's app already uses this device id: the app must make a new one."""

    error = "device_id_taken"


class EnrolmentTokenInvalid(InvalidRequest):
    """The app enrolment token is unknown, used already, or past its 10 minutes."""

    error = "enrolment_token_invalid"
    status = 410


class ChallengeGone(InvalidRequest):
    """The push challenge expired, was answered already, or never existed."""

    error = "push_challenge_gone"
    status = 410


class ChallengeNotYours(AccessDenied):
    error = "push_challenge_not_yours"


class PushDenied(AccessDenied):
    """The employee denied the sign-in on the phone (or picked the wrong number)."""

    error = "push_denied"


class PushUnavailable(Conflict):
    """The employee has no usable authenticator app."""

    error = "push_unavailable"


class PushOutstanding(IdpError):
    """A push request is already waiting for this employee (push-fatigue defence)."""

    error = "push_outstanding"
    status = 429

    def __init__(self, description: str, *, retry_after: int) -> None:
        super().__init__(description)
        self.retry_after = retry_after


class NoDevice(NotFound):
    error = "device_not_found"


class TotpError(Unauthorized):
    error = "totp_invalid"


class TotpReused(TotpError):
    error = "totp_reused"


class TotpLocked(IdpError):
    error = "totp_locked"
    status = 429

    def __init__(self, *, minutes: int) -> None:
        super().__init__(
            f"too many wrong codes; one-time codes are locked for up to {minutes} minutes"
        )
        self.retry_after = minutes * 60


class TotpNotEnrolled(Conflict):
    error = "totp_not_enrolled"


class UserVerificationRequired(AccessDenied):
    """A factor that verified nobody (a TOTP code, a push approved without the app's check)
    where the relying party's policy requires user verification."""

    error = "user_verification_required"
