"""Offline codes: PC login by phone while the workstation cannot reach the server.

At each online PC login (password-based) the server mints a fresh 32-byte secret for that
workstation × device pair, seals it to the workstation's key inside the credentials command,
and hands it to the phone in its answer; then it forgets it. The workstation keeps the grant
(the secret, the sealed password it was sent, a count and an expiry); the phone keeps the
secret. Code *i* (1 … count) is::

    HMAC-SHA256(secret, "hideez-idp offline v1|" workstation-id "|" device-id "|" i)

dynamically truncated to 8 decimal digits as in RFC 4226 §5.3. The gateway accepts a code
once, only the next unused ones (an accepted code *i* burns every code before it), only
until the expiry, and only a few wrong tries per window (:data:`MAX_FAILURES`). A newer grant
of the same device replaces the older one; a revocation (an ``offline_revoke`` command, see
:mod:`idp.workstations.offline_revocations`) drops the grants issued before it. The threat
model is in docs/workstations.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from idp.workstations import sealed
from idp.workstations.model import load_public_key
from idp.workstations.wire import b64url

DIGITS = 8
CONTEXT = b"hideez-idp offline v1"
#: the purpose the offline secret is sealed for (see idp.workstations.sealed)
SECRET_PURPOSE = "pc-login-offline"
#: wrong codes a workstation takes per :data:`FAILURE_WINDOW` before it refuses every code
MAX_FAILURES = 5
FAILURE_WINDOW = dt.timedelta(minutes=15)
CODE = re.compile(r"[0-9]{8}")


def code_at(secret: bytes, *, workstation_id: str, device_id: str, index: int) -> str:
    """Offline code number ``index`` (1-based) of a grant."""
    message = b"|".join((CONTEXT, workstation_id.encode(), device_id.encode(), str(index).encode()))
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    offset = digest[-1] & 0x0F
    value = int.from_bytes(digest[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(value % 10**DIGITS).zfill(DIGITS)


@dataclass(frozen=True)
class MintedGrant:
    """What one online login hands out: the part for the workstation and the phone's."""

    secret: bytes
    count: int
    expires_at: dt.datetime
    #: when it was minted: a revocation made later drops it, one made earlier does not
    issued_at: dt.datetime

    def for_workstation(self, *, public_key: str, workstation_id: str) -> dict[str, object]:
        box = sealed.seal(
            self.secret,
            recipient=load_public_key(public_key),
            workstation_id=workstation_id,
            purpose=SECRET_PURPOSE,
        )
        return {
            "secret": box.to_wire(),
            "count": self.count,
            "expires_at": _iso(self.expires_at),
            "issued_at": _iso(self.issued_at),
        }

    def for_phone(self, *, workstation_id: str) -> dict[str, object]:
        return {
            "workstation_id": workstation_id,
            "secret": b64url(self.secret),
            "count": self.count,
            "expires_at": _iso(self.expires_at),
        }


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def mint(*, count: int, lifetime: dt.timedelta, now: dt.datetime) -> MintedGrant:
    return MintedGrant(secrets.token_bytes(32), count, now + lifetime, now.replace(microsecond=0))
