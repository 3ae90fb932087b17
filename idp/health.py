"""Liveness and readiness: what a load balancer or an orchestrator asks before sending work.

Alive means the process answers. Ready means it can finish a sign-in now: the database and
the short-lived store both answer. Each check names what failed in words an operator can act
on, and the driver's own text (hosts, SQL) stays in the log.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from idp.errors import IdpError
from idp.store.errors import StoreUnavailable

if TYPE_CHECKING:
    from collections.abc import Callable

    from idp.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Readiness:
    #: each dependency → "ok" or what is wrong with it
    checks: dict[str, str]

    @property
    def ready(self) -> bool:
        return all(state == "ok" for state in self.checks.values())

    def to_dict(self) -> dict[str, object]:
        return {"status": "ready" if self.ready else "not_ready", "checks": self.checks}


class NotReady(StoreUnavailable):
    """A dependency does not answer: the instance should get no sign-ins until it does."""

    error = "not_ready"

    def __init__(self, readiness: Readiness) -> None:
        failing = ", ".join(f"{name}: {state}" for name, state in readiness.checks.items()
                            if state != "ok")  # fmt: skip
        super().__init__(f"not ready — {failing}", store="database" if
                         readiness.checks["database"] != "ok" else "short_lived")  # fmt: skip
        self.readiness = readiness


def check_readiness(runtime: Runtime) -> Readiness:
    """Ask the database and the short-lived store once each; raise :class:`NotReady` if either
    fails, else return what was found."""
    readiness = Readiness(
        checks={
            "database": _state("database", runtime.db.ping),
            "store": _state("short-lived store", runtime.ephemeral.ping),
        }
    )
    if not readiness.ready:
        raise NotReady(readiness)
    return readiness


def _state(name: str, ping: Callable[[], None]) -> str:
    try:
        ping()
    except IdpError as exc:
        log.warning("readiness: %s does not answer: %s", name, exc.description)
        return f"unavailable ({exc.error})"
    return "ok"
