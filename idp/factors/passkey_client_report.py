"""Ceremony failures the browser reports: audited, never trusted for anything else.

When an authenticator cannot meet the options (a U2F-only key asked for a discoverable
credential or for user verification), the browser refuses before anything reaches the
server, and tells the page only a ``DOMException`` name (WebAuthn Level 3 §5.1.3, §5.1.4.1:
the reason is hidden on purpose). The page reports that name so that the refusal is logged and
audited like a server-side one. The report is the browser's word: it names no credential, it
grants and revokes nothing, and its description is built here from what the server itself
asked for, not from client text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from idp.audit import AuditKind
from idp.errors import InvalidRequest

Ceremony = Literal["create", "get"]

#: the names ``navigator.credentials.create`` / ``.get`` reject with (§5.1.3, §5.1.4.1, and
#: TypeError for options the browser cannot read)
DOM_EXCEPTIONS: dict[str, str] = {
    "NotAllowedError": "cancelled, timed out, or the authenticator cannot meet the options",
    "InvalidStateError": "the authenticator already holds a credential for this account",
    "NotSupportedError": "no authenticator supports the requested algorithms or options",
    "SecurityError": "the page's origin may not use this RP ID",
    "ConstraintError": "the authenticator cannot meet a required option",
    "AbortError": "the page aborted the request",
    "UnknownError": "the authenticator failed",
    "TypeError": "the browser could not read the options",
}


@dataclass(frozen=True)
class ClientCeremonyFailure:
    """One reported failure, ready for the audit log."""

    ceremony: Ceremony
    dom_exception: str
    kind: AuditKind
    reason: str


def client_failure(
    *,
    ceremony: Ceremony,
    dom_exception: str,
    resident_key_required: bool,
    user_verification_required: bool,
) -> ClientCeremonyFailure:
    """Check a report and describe it from what the server asked for.

    ``resident_key_required`` / ``user_verification_required`` are the options this server
    issues for the ceremony (from configuration and policy), so the audit says which demand a
    U2F-only key cannot meet without believing anything but the exception's name.
    """
    meaning = DOM_EXCEPTIONS.get(dom_exception)
    if meaning is None:
        raise InvalidRequest(
            f"field 'error' must be one of {', '.join(DOM_EXCEPTIONS)}, got {dom_exception[:40]!r}"
        )
    demands = []
    if ceremony == "create" and resident_key_required:
        demands.append("a discoverable credential (resident_key: required)")
    if user_verification_required:
        demands.append("user verification (PIN or biometric)")
    action = "creating a credential" if ceremony == "create" else "signing in"
    reason = f"browser reported {dom_exception} while {action}: {meaning}"
    if demands and dom_exception in ("NotAllowedError", "ConstraintError", "NotSupportedError"):
        reason += f"; the options required {' and '.join(demands)}, which U2F-only keys lack"
    return ClientCeremonyFailure(
        ceremony=ceremony,
        dom_exception=dom_exception,
        kind=(
            AuditKind.PASSKEY_REGISTRATION_FAILED
            if ceremony == "create"
            else AuditKind.LOGIN_FAILURE
        ),
        reason=reason,
    )
