"""A rolling restart under load, through the harness of bench/load: two ``hideez-idp serve``
processes behind the round-robin proxy (on the test suite's PostgreSQL and Redis), one user
signing in continuously (SAML, OIDC, OIDC with app push, in turn, 0.2 s apart) while each
instance in turn gets SIGTERM and is started again. No sign-in may fail, and every completed
one must have left its ceremony and its answer in the audit — the SIGTERM'd instances wrote
what they had queued before exiting.

Kept light (one user, half a second of readiness drain) so that the four instance starts —
the two first ones in parallel — are most of its time."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench.load import scenarios
from bench.load.harness import Harness, close_browsers, harness
from tests.e2e.server import throwaway_pg_database, throwaway_redis_namespace

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
BOTH = {0, 1}


async def _rolling(h: Harness) -> scenarios.FaultResult:
    try:
        return await scenarios.under_load(h, "rolling restart",
                                          lambda: scenarios.rolling_restart(h),
                                          lead=0.5, tail=0.5, think=0.2)  # fmt: skip
    finally:
        await close_browsers(h.users)


def test_a_rolling_restart_under_load_fails_no_sign_in_and_loses_no_audit(
    tmp_path: Path,
) -> None:
    with (
        throwaway_pg_database("idp_load") as database_url,
        throwaway_redis_namespace("idp-load") as store_url,
        harness(tmp_path, database_url=database_url, store_url=store_url,
                instance_cpus=[BOTH, BOTH], proxy_cpus=BOTH, users=1, unready_delay=0.5) as h,
    ):  # fmt: skip
        result = asyncio.run(_rolling(h))
        assert result.summary.failed == 0, result.summary.errors
        assert result.audit_lost == 0
        assert "2 instances restarted" in result.notes and "exit codes [0, 0]" in result.notes
        # The load really ran across the restarts: every flow completed, both ways round.
        assert set(result.summary.by_flow) == {"saml", "oidc", "push"}
        backends = h.proxy_stats()["backends"]
        assert all(b["answered"] > 0 and b["failed"] == 0 for b in backends), backends
        h.runtime.audit.flush()
        assert h.runtime.audit.verify().ok
