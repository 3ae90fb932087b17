"""Decoy credentials for sign-in by username (WebAuthn Level 3 §14.6.2, username enumeration).

When a username is unknown, or its employee has no passkey, the sign-in options must still
list credentials, and they must look like a real employee's: as many as people really enrol,
with the transports real authenticators report, with ids of the lengths they produce. The
answer is derived from the username and a server secret only, so the same name gets the same
decoys on every request, on every instance, across restarts: asking twice and comparing tells
nothing either.

The tables below are what browsers report for common authenticators (``getTransports()``
returns the names sorted, §5.2.1.2) and the credential id lengths those authenticators
produce; the weights are a typical enrolment mix of an employee population (most employees
have one passkey, some a laptop and a phone or a spare key).
"""

from __future__ import annotations

import base64
import bisect
import datetime as dt
import hashlib
import hmac
import itertools
from collections.abc import Sequence

from idp.factors.registry import PasskeyCredential

#: (how many credentials, weight)
COUNT_WEIGHTS: tuple[tuple[int, int], ...] = ((1, 70), (2, 22), (3, 8))


#: (transports as a browser reports them, credential id lengths in bytes, weight)
AUTHENTICATOR_SHAPES: tuple[tuple[tuple[str, ...], tuple[int, ...], int], ...] = (
    # platform passkeys: Windows Hello, iCloud Keychain, Google Password Manager
    (("hybrid", "internal"), (16, 20, 32), 38),
    (("internal",), (16, 20, 32), 12),
    # a phone reached by QR code / caBLE
    (("hybrid",), (16, 20), 8),
    # security keys: USB only, USB + NFC (YubiKey 5 NFC, Feitian), U2F-only keys
    (("usb",), (32, 48, 64), 20),
    (("nfc", "usb"), (32, 48, 64), 18),
    (("ble", "nfc", "usb"), (64,), 4),
)

_DOMAIN = b"hideez-idp passkey decoy v1|"


class _Stream:
    """Deterministic bytes from HMAC-SHA256 in counter mode (NIST SP 800-108 style)."""

    def __init__(self, key: bytes, label: bytes) -> None:
        self._key, self._label, self._counter = key, label, 0
        self._buffer = b""

    def take(self, n: int) -> bytes:
        while len(self._buffer) < n:
            self._counter += 1
            block = self._counter.to_bytes(4, "big") + self._label
            self._buffer += hmac.new(self._key, block, hashlib.sha256).digest()
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out

    def weighted(self, weights: Sequence[int]) -> int:
        """An index drawn with the given weights (4 bytes per draw: the bias is negligible)."""
        bounds = list(itertools.accumulate(weights))
        return bisect.bisect_right(bounds, int.from_bytes(self.take(4), "big") % bounds[-1])


def normalise_username(username: str) -> str:
    # The same spellings that find one employee (case, surrounding blanks) get one decoy.
    return username.strip().lower()


def decoy_credentials(
    *, salt: str, username: str, now: dt.datetime
) -> tuple[PasskeyCredential, ...]:
    """The stable decoy credentials for ``username``: 1–3 credentials of real shapes.

    ``salt`` is a server secret (the pairwise salt): without it nobody can compute a decoy
    and compare. Only ``credential_id`` and ``transports`` reach the browser; the rest is
    filled so that the value is a complete :class:`PasskeyCredential` that no ceremony can
    verify (no public key, no owner).
    """
    key = hashlib.sha256(_DOMAIN + salt.encode("utf-8")).digest()
    stream = _Stream(key, normalise_username(username).encode("utf-8"))
    count = COUNT_WEIGHTS[stream.weighted([w for _, w in COUNT_WEIGHTS])][0]
    decoys = []
    for _ in range(count):
        transports, lengths, _weight = AUTHENTICATOR_SHAPES[
            stream.weighted([w for _, _, w in AUTHENTICATOR_SHAPES])
        ]
        length = lengths[stream.weighted([1] * len(lengths))]
        raw_id = stream.take(length)
        decoys.append(
            PasskeyCredential(
                credential_id=base64.urlsafe_b64encode(raw_id).rstrip(b"=").decode("ascii"),
                employee_id="",
                public_key=b"",
                sign_count=0,
                aaguid="",
                transports=transports,
                backup_eligible=False,
                backed_up=False,
                user_verified=False,
                attestation_format="none",
                name="",
                created_at=now,
            )
        )
    return tuple(decoys)
