"""Server-side sessions and the authentication context a protocol answers from."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from idp.factors.kinds import FactorKind, FactorUse


@dataclass(frozen=True)
class AuthContext:
    """Who signed in, when, and how: everything a SAML/OIDC/WS-Fed answer is built from."""

    session_id: str
    employee_id: str
    auth_time: dt.datetime
    factors: tuple[FactorUse, ...]

    @property
    def amr(self) -> tuple[str, ...]:
        seen: list[str] = []
        for use in self.factors:
            for value in use.amr:
                if value not in seen:
                    seen.append(value)
        if len({u.kind for u in self.factors}) > 1 and "mfa" not in seen:
            seen.append("mfa")
        return tuple(seen)

    @property
    def user_verified(self) -> bool:
        return any(u.user_verified for u in self.factors)

    def used(self, kind: FactorKind) -> bool:
        return any(u.kind is kind for u in self.factors)
