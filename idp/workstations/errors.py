"""One typed error per failure stage of the workstation link and its admin actions.

Each carries its wire form (see :mod:`idp.errors`): the link server sends ``to_dict()`` to
the gateway and closes with the code :data:`LINK_CLOSE_CODES` names.
"""

from __future__ import annotations

from idp.errors import (
    AccessDenied,
    Conflict,
    IdpError,
    InvalidRequest,
    NotFound,
    ReplayDetected,
    RequestTooLarge,
    Unauthorized,
)


class InvalidLinkMessage(InvalidRequest):
    """A link frame is not valid JSON of the documented shape; nothing was stored."""

    error = "invalid_link_message"


class KeyConversationBusy(Conflict):
    """A key frame arrived while another frame of the same conversation was being handled
    (two connections of one workstation, a repeated frame); nothing of it was used."""

    error = "key_conversation_busy"


class LinkMessageTooLarge(RequestTooLarge):
    """A frame or an event batch is larger than the link accepts."""

    error = "link_message_too_large"


class BadSignature(Unauthorized):
    """The frame's signature does not verify with the workstation's registered key."""

    error = "bad_signature"


class UnknownWorkstation(Unauthorized):
    """No workstation is registered under the id a frame names."""

    error = "unknown_workstation"


class StaleRequest(Unauthorized):
    """The frame's timestamp is outside the accepted window (a replay or a wrong clock)."""

    error = "stale_request"


class ReplayedRequest(ReplayDetected):
    """A signed frame's nonce was seen before."""

    error = "replayed_request"


class WorkstationNotApproved(AccessDenied):
    """The workstation is Pending, Unapproved or Removed: only registration is accepted."""

    error = "workstation_not_approved"


class WorkstationNotFound(NotFound):
    error = "workstation_not_found"


class InvalidWorkstationInput(InvalidRequest):
    """An administrative input about a workstation is malformed; nothing was stored."""

    error = "invalid_workstation_input"


class RegistrationConflict(Conflict):
    """A registration names a workstation id that belongs to another key."""

    error = "registration_conflict"


class AlarmActive(AccessDenied):
    """The emergency alarm is on: no workstation may be unlocked until it is lifted."""

    error = "alarm_active"


class LogonRefused(AccessDenied):
    """The employee may not log on to this workstation (not approved, disabled, …)."""

    error = "logon_refused"


class QrNonceInvalid(ReplayDetected):
    """The lock-screen QR nonce is unknown, expired, already used or for another workstation."""

    error = "qr_nonce_invalid"


class RegistrationRateLimited(IdpError):
    """Too many registrations of unapproved workstations from one address, or overall."""

    error = "registration_rate_limited"
    status = 429


class PcLogonDisabled(AccessDenied):
    """An administrator switched PC logon off for this authenticator app."""

    error = "pc_logon_disabled"


class InvalidPcLoginRequest(InvalidRequest):
    """A PC-login or lock request from the phone is malformed; nothing was sent."""

    error = "invalid_pc_login_request"


class NothingToLock(NotFound):
    """The employee has no unlocked workstation (or not the one named) to lock."""

    error = "nothing_to_lock"


class OfflineCodeRefused(AccessDenied):
    """An offline code is wrong, used, expired, or tried too often at this workstation."""

    error = "offline_code_refused"


class SealedCredentialInvalid(InvalidRequest):
    """A credential sealed to a workstation key does not open (wrong key, altered, other id)."""

    error = "sealed_credential_invalid"


#: WebSocket close codes (RFC 6455 §7.4.2 leaves 4000-4999 to applications)
LINK_CLOSE_CODES: dict[type[Exception], int] = {
    WorkstationNotApproved: 4403,
    UnknownWorkstation: 4401,
    BadSignature: 4401,
    StaleRequest: 4401,
    ReplayedRequest: 4409,
    LinkMessageTooLarge: 4413,
    RegistrationRateLimited: 4429,
    InvalidLinkMessage: 4400,
}
