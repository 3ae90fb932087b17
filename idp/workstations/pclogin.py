"""The parts of PC login that do not need the phone: the lock-screen QR, the logon check, and
the credential a workstation receives (a password sealed to its key, or a logon certificate).

The phone flow (:class:`idp.workstations.phone.PhonePcLogin`: the authenticator app scans
the QR, signs, the server checks that PC logon is enabled for that device) calls
:func:`redeem_qr`, :func:`check_logon`, then :func:`password_command` or
:func:`certificate_command`, and publishes the command.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, urlsplit

from idp.directory.model import Employee
from idp.store.ephemeral.base import EphemeralStore
from idp.workstations import sealed
from idp.workstations.ca import CertificateAuthority
from idp.workstations.commands import Command, CommandKind
from idp.workstations.errors import (
    AlarmActive,
    LogonRefused,
    QrNonceInvalid,
    WorkstationNotApproved,
)
from idp.workstations.model import WORKSTATION_ID, Workstation, load_public_key
from idp.workstations.registry import AlarmState
from idp.workstations.sealed import PASSWORD_PURPOSE

QR_TTL = 120
QR_SCHEME = "hideez-idp"
_KEY = "ws-qr:"
_NONCE = re.compile(r"[A-Za-z0-9_-]{32}")
MAX_PASSWORD = 512


@dataclass(frozen=True)
class LockScreenQr:
    workstation_id: str
    nonce: str
    expires_at: dt.datetime

    @property
    def payload(self) -> str:
        return f"{QR_SCHEME}://pc-login?ws={quote(self.workstation_id)}&n={quote(self.nonce)}"


def issue_qr(*, store: EphemeralStore, workstation: Workstation, now: dt.datetime) -> LockScreenQr:
    """A fresh single-use nonce for ``workstation``'s lock screen (only approved ones)."""
    if not workstation.approved:
        raise WorkstationNotApproved(f"{workstation.id} is {workstation.status.value}")
    nonce = secrets.token_urlsafe(24)
    store.put(_KEY + nonce, workstation.id.encode(), ttl=QR_TTL)
    return LockScreenQr(workstation.id, nonce, now + dt.timedelta(seconds=QR_TTL))


def redeem_qr(*, store: EphemeralStore, payload: str) -> str:
    """The workstation id a scanned QR names, taking its nonce (a second scan is refused)."""
    parts = urlsplit(payload[:512])
    query = parse_qs(parts.query)
    ws_id, nonce = query.get("ws", [""])[0], query.get("n", [""])[0]
    if (
        parts.scheme != QR_SCHEME
        or parts.netloc != "pc-login"
        or not WORKSTATION_ID.fullmatch(ws_id)
        or not _NONCE.fullmatch(nonce)
    ):
        raise QrNonceInvalid("not a lock-screen QR of this server")
    issued_for = store.take(_KEY + nonce)
    if issued_for is None:
        raise QrNonceInvalid("the QR code was already used or has expired; show a new one")
    if issued_for.decode() != ws_id:
        raise QrNonceInvalid("the QR code's nonce was issued to another workstation")
    return ws_id


def check_logon(*, workstation: Workstation, employee: Employee, alarm: AlarmState) -> None:
    """May ``employee`` log on to ``workstation`` now?"""
    if alarm.active:
        raise AlarmActive("the emergency alarm is on: no workstation may be unlocked")
    if not workstation.approved:
        raise WorkstationNotApproved(f"{workstation.id} is {workstation.status.value}")
    if not employee.enabled:
        raise LogonRefused(f"employee {employee.username!r} is deactivated")


def password_command(
    *, workstation: Workstation, account: str, password: str, unlocked_by: str = "phone"
) -> Command:
    """A credentials command carrying ``password`` sealed to the workstation's key."""
    if not account or len(account) > 255 or not 0 < len(password) <= MAX_PASSWORD:
        raise LogonRefused("an account and a password of at most 512 characters are needed")
    box = sealed.seal(
        password.encode(),
        recipient=load_public_key(workstation.public_key),
        workstation_id=workstation.id,
        purpose=PASSWORD_PURPOSE,
    )
    body = {
        "method": "password",
        "account": account,
        "sealed": box.to_wire(),
        "unlocked_by": unlocked_by,
    }
    return Command(CommandKind.CREDENTIALS, body)


def certificate_command(
    *,
    ca: CertificateAuthority,
    workstation: Workstation,
    account: str,
    upn: str,
    now: dt.datetime,
    lifetime: dt.timedelta = dt.timedelta(minutes=5),
) -> Command:
    """A credentials command carrying a logon certificate issued to the workstation's key."""
    issued = ca.issue_logon_certificate(
        upn=upn, public_key=load_public_key(workstation.public_key), now=now, lifetime=lifetime
    )
    body = {
        "method": "certificate",
        "account": account,
        "certificate": issued.pem(),
        "unlocked_by": "phone",
    }
    return Command(CommandKind.CREDENTIALS, body)
