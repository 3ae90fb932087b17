"""The ``passwords:`` section: argon2id cost, password length, lockout and address limits.

Passwords exist only for employees in the two-factor SSO mode (see docs/passwords.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from idp.config.reader import Node, optional
from idp.factors.password import OWASP_MINIMUM, Argon2Params
from idp.factors.password_rules import (
    DEFAULT_MIN_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH_FLOOR,
)
from idp.factors.password_signin import PasswordLimits

DEFAULT_TARGET_MS = 75


@dataclass(frozen=True)
class PasswordSettings:
    """``argon2`` None means measured at start (``argon2: auto``) to take ``target_ms``."""

    argon2: Argon2Params | None = None
    target_ms: int = DEFAULT_TARGET_MS
    min_length: int = DEFAULT_MIN_PASSWORD_LENGTH
    limits: PasswordLimits = field(default_factory=PasswordLimits)


def parse_passwords(node: Node) -> PasswordSettings:
    node.only_keys(
        "argon2",
        "target_ms",
        "min_length",
        "lockout_attempts",
        "lockout_minutes",
        "failures_per_address_per_minute",
    )
    argon2 = optional(node.get("argon2"), _argon2)
    target = node.get("target_ms")
    if target is not None and argon2 is not None:
        raise target.error("is only used with argon2: auto (fixed parameters take their own time)")
    d = PasswordSettings()
    return PasswordSettings(
        argon2=argon2,
        target_ms=optional(target, lambda n: n.as_int(min_value=10, max_value=2000), d.target_ms),
        min_length=optional(
            node.get("min_length"),
            lambda n: n.as_int(min_value=MIN_PASSWORD_LENGTH_FLOOR, max_value=64),
            d.min_length,
        ),
        limits=PasswordLimits(
            max_failures=optional(
                node.get("lockout_attempts"),
                lambda n: n.as_int(min_value=1, max_value=100),
                d.limits.max_failures,
            ),
            lock_minutes=optional(
                node.get("lockout_minutes"),
                lambda n: n.as_int(min_value=1, max_value=1440),
                d.limits.lock_minutes,
            ),
            failures_per_address_per_minute=optional(
                node.get("failures_per_address_per_minute"),
                lambda n: n.as_int(min_value=1, max_value=100_000),
                d.limits.failures_per_address_per_minute,
            ),
        ),
    )


def _argon2(node: Node) -> Argon2Params | None:
    if node.value == "auto":
        return None
    if isinstance(node.value, str):
        raise node.error(
            f"expected auto or a mapping of memory_kib, time_cost, parallelism; got {node.value!r}"
        )
    node.only_keys("memory_kib", "time_cost", "parallelism")
    floor = OWASP_MINIMUM
    return Argon2Params(
        memory_kib=node.child("memory_kib").as_int(
            min_value=floor.memory_kib, max_value=4 * 1024 * 1024
        ),
        time_cost=node.child("time_cost").as_int(min_value=floor.time_cost, max_value=50),
        parallelism=optional(
            node.get("parallelism"), lambda n: n.as_int(min_value=1, max_value=16), 1
        ),
    )
