"""The OS actuator: lock the workstation, and unlock it with credentials the server delivered.

Chosen by name, as bleak chooses a backend: ``windows`` (LockWorkStation through ctypes; the
unlock hands the credential to the Hideez credential provider over a named pipe), ``linux``
(``loginctl lock-session``/``unlock-session``; the credential check is the PAM module's, see
docs/workstations.md) and ``recording`` (for tests and the simulator: it records the calls).
"""

from __future__ import annotations

import ctypes
import json
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Protocol

#: the pipe the Windows credential provider reads (docs/workstations.md: hand-off)
CREDENTIAL_PIPE = r"\\.\pipe\HideezIdpCredentialProvider"


class ActuatorError(Exception):
    """The OS refused to lock or unlock."""


@dataclass(frozen=True)
class LogonCredential:
    """What an unlock needs: the OS account and a password or a PEM certificate chain."""

    account: str
    method: str
    secret: str = field(repr=False)
    #: the employee (username) the server named for it, when it did (journal and sessions)
    employee: str | None = None


class Actuator(Protocol):
    def lock(self) -> None: ...

    def unlock(self, credential: LogonCredential) -> None: ...


class WindowsActuator:
    def lock(self) -> None:
        user32 = ctypes.WinDLL("user32")  # type: ignore[attr-defined,unused-ignore]
        if not user32.LockWorkStation():
            raise ActuatorError("LockWorkStation failed (no interactive session?)")

    def unlock(self, credential: LogonCredential) -> None:
        message = {
            "account": credential.account,
            "method": credential.method,
            "secret": credential.secret,
        }
        try:
            with open(CREDENTIAL_PIPE, "wb", buffering=0) as pipe:
                pipe.write(json.dumps(message).encode())
        except OSError as exc:
            raise ActuatorError(f"the credential provider is not listening: {exc}") from exc


class LinuxActuator:
    """Locks through systemd-logind; unlocking needs the session to be the gateway's to end."""

    def __init__(self, session: str = "auto") -> None:
        self.session = session

    def _loginctl(self, action: str) -> None:
        argv = ["loginctl", action] + ([] if self.session == "auto" else [self.session])
        try:
            subprocess.run(argv, check=True, capture_output=True, timeout=10)  # noqa: S603
        except (OSError, subprocess.SubprocessError) as exc:
            raise ActuatorError(f"loginctl {action} failed: {exc}") from exc

    def lock(self) -> None:
        self._loginctl("lock-session")

    def unlock(self, credential: LogonCredential) -> None:
        # The credential itself is checked by PAM (pam_exec/pam_hideez in the screen locker's
        # stack, reading the same pipe contract); logind only ends the lock.
        self._loginctl("unlock-session")


@dataclass
class RecordingActuator:
    """Records what was asked (tests, simulator); ``locked`` follows the calls."""

    calls: list[tuple[str, LogonCredential | None]] = field(default_factory=list)
    locked: bool = False

    def lock(self) -> None:
        self.calls.append(("lock", None))
        self.locked = True

    def unlock(self, credential: LogonCredential) -> None:
        self.calls.append(("unlock", credential))
        self.locked = False


def actuator_for(name: str) -> Actuator:
    if name == "auto":
        name = "windows" if sys.platform == "win32" else "linux"
    if name == "windows":
        return WindowsActuator()
    if name == "linux":
        return LinuxActuator()
    if name == "recording":
        return RecordingActuator()
    raise ValueError(f"actuator: windows, linux, recording or auto, not {name!r}")
