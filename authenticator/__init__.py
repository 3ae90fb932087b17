"""The reference authenticator: what a mobile app embeds, as a library and a CLI.

It speaks the protocol of docs/authenticator-protocol.md and imports from the server only the
documented wire model (:mod:`idp.factors.authenticator.wire`). :class:`~authenticator.client.
Authenticator` enrols from the QR code's content, lists waiting sign-in requests, approves
one with the number the sign-in page shows or denies it, and computes TOTP codes.
"""

from authenticator.client import Authenticator, AuthenticatorError, PendingRequest

__all__ = ["Authenticator", "AuthenticatorError", "PendingRequest"]
