"""Refresh-token families and remembered consent in SQL, on SQLite and PostgreSQL.

OAuth 2.0 Security BCP (RFC 9700) §4.14.2: refresh-token rotation, and a spent token presented
again revokes every token of its family.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from idp.oidc import errors as e
from idp.oidc.grants import Grant, GrantStore
from idp.oidc.store import (
    MAX_CONSENT_SCOPES,
    OidcGrantRow,
    OidcRefreshTokenRow,
    SqlConsents,
    SqlRefreshFamilies,
)
from idp.store.ephemeral.memory import MemoryStore
from idp.store.sql import Database, EmployeeRepository
from tests.store.sql.helpers import employee

NOW = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
DAY = 86400


@pytest.fixture
def families(db: Database) -> SqlRefreshFamilies:
    EmployeeRepository(db).add(employee(1), now=NOW)
    EmployeeRepository(db).add(employee(2), now=NOW)
    return SqlRefreshFamilies(db)


def grants_over(families: SqlRefreshFamilies, store: MemoryStore | None = None) -> GrantStore:
    return GrantStore(store or MemoryStore(), refresh_ttl=30 * DAY, families=families)


def grant(grant_id: str = "g1", **kw: object) -> Grant:
    values: dict[str, object] = dict(
        grant_id=grant_id, client_id="c", employee_id="emp-1", session_id="s" * 32,
        scopes=("openid", "email"), auth_time=NOW.timestamp() - 5, acr="urn:acr:mfa",
        amr=("fido", "hwk"), redirect_uri="https://rp/cb", nonce="n-1",
    )  # fmt: skip
    values.update(kw)
    return Grant(**values)  # type: ignore[arg-type]


def family_row(db: Database, grant_id: str) -> OidcGrantRow | None:
    with db.transaction() as s:
        return s.get(OidcGrantRow, grant_id)


def test_rotation_returns_the_grant_and_a_new_token(families: SqlRefreshFamilies) -> None:
    grants = grants_over(families)
    first = grants.issue_refresh_token(grant(), now=NOW)
    got, second = grants.rotate_refresh_token(token=first, client_id="c", now=NOW)
    assert got == grant(), "the whole grant (scopes, acr, amr, nonce) survives the round trip"
    assert second != first
    again, third = grants.rotate_refresh_token(token=second, client_id="c", now=NOW)
    assert again == grant() and third not in (first, second)


def test_tokens_survive_a_restart_of_the_short_lived_store(
    families: SqlRefreshFamilies, db: Database
) -> None:
    token = grants_over(families).issue_refresh_token(grant(), now=NOW)
    # A new process: new short-lived store (Redis restarted empty), same database.
    restarted = grants_over(SqlRefreshFamilies(db), MemoryStore())
    got, _ = restarted.rotate_refresh_token(token=token, client_id="c", now=NOW)
    assert got.grant_id == "g1"


def test_reuse_revokes_the_family_and_its_access_tokens(
    families: SqlRefreshFamilies, db: Database
) -> None:
    grants = grants_over(families)
    first = grants.issue_refresh_token(grant(), now=NOW)
    access = grants.issue_access_token(grant())
    _, second = grants.rotate_refresh_token(token=first, client_id="c", now=NOW)
    with pytest.raises(e.FamilyRevokedError, match="already used") as caught:
        grants.rotate_refresh_token(token=first, client_id="c", now=NOW)
    assert caught.value.grant_id == "g1" and caught.value.error == "invalid_grant"
    with pytest.raises(e.InvalidGrantError, match="revoked"):
        grants.rotate_refresh_token(token=second, client_id="c", now=NOW)
    with pytest.raises(e.InvalidTokenError, match="revoked"):
        grants.access_token(access)
    row = family_row(db, "g1")
    assert row is not None and row.revoked_at == NOW and row.revoked_reason == "reused"


def test_a_refused_check_leaves_the_token_unspent(
    families: SqlRefreshFamilies, db: Database
) -> None:
    # A refresh request refused for its own content (RFC 6749 §6: a scope not granted) must not
    # spend the token: the client's retry would otherwise look like reuse and revoke the family.
    grants = grants_over(families)
    token = grants.issue_refresh_token(grant(), now=NOW)

    def refuse(_: Grant) -> None:
        raise e.InvalidScopeError("scope 'phone' was not granted originally")

    with pytest.raises(e.InvalidScopeError):
        grants.rotate_refresh_token(token=token, client_id="c", now=NOW, check=refuse)
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(OidcRefreshTokenRow)) == 1
    got, _ = grants.rotate_refresh_token(token=token, client_id="c", now=NOW)
    assert got.grant_id == "g1"
    row = family_row(db, "g1")
    assert row is not None and row.revoked_at is None


def test_reuse_after_a_restart_is_still_detected(
    families: SqlRefreshFamilies, db: Database
) -> None:
    grants = grants_over(families)
    first = grants.issue_refresh_token(grant(), now=NOW)
    grants.rotate_refresh_token(token=first, client_id="c", now=NOW)
    restarted = grants_over(SqlRefreshFamilies(db), MemoryStore())
    with pytest.raises(e.FamilyRevokedError):
        restarted.rotate_refresh_token(token=first, client_id="c", now=NOW + dt.timedelta(days=9))


def test_another_client_presenting_the_token_revokes_the_family(
    families: SqlRefreshFamilies, db: Database
) -> None:
    grants = grants_over(families)
    token = grants.issue_refresh_token(grant(), now=NOW)
    with pytest.raises(e.FamilyRevokedError, match="another client"):
        grants.rotate_refresh_token(token=token, client_id="intruder", now=NOW)
    row = family_row(db, "g1")
    assert row is not None and row.revoked_reason == "wrong_client"


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("", "malformed"),
        ("a" * 500, "malformed"),
        ("x' OR '1'='1", "malformed"),
        ("A" * 43, "unknown or expired"),
    ],
)
def test_unknown_and_malformed_tokens(
    families: SqlRefreshFamilies, token: str, message: str
) -> None:
    with pytest.raises(e.InvalidGrantError, match=message) as caught:
        grants_over(families).rotate_refresh_token(token=token, client_id="c", now=NOW)
    assert not isinstance(caught.value, e.FamilyRevokedError)


def test_expired_token_is_refused_without_revoking(
    families: SqlRefreshFamilies, db: Database
) -> None:
    grants = grants_over(families)
    token = grants.issue_refresh_token(grant(), now=NOW)
    later = NOW + dt.timedelta(days=30)
    with pytest.raises(e.InvalidGrantError, match="expired") as caught:
        grants.rotate_refresh_token(token=token, client_id="c", now=later)
    assert not isinstance(caught.value, e.FamilyRevokedError)
    row = family_row(db, "g1")
    assert row is not None and row.revoked_at is None


def test_rotation_slides_the_family_expiry(families: SqlRefreshFamilies, db: Database) -> None:
    grants = grants_over(families)
    token = grants.issue_refresh_token(grant(), now=NOW)
    later = NOW + dt.timedelta(days=20)
    grants.rotate_refresh_token(token=token, client_id="c", now=later)
    row = family_row(db, "g1")
    assert row is not None and row.expires_at == later + dt.timedelta(days=30)


def test_a_code_replay_racing_the_first_exchange_still_revokes_the_family(
    families: SqlRefreshFamilies, db: Database
) -> None:
    grants = grants_over(families)
    # The replay revoked the grant before the first exchange wrote the family.
    grants.revoke("g1", now=NOW, reason="code_reused")
    token = grants.issue_refresh_token(grant(), now=NOW)
    with pytest.raises(e.InvalidGrantError, match="revoked"):
        grants.rotate_refresh_token(token=token, client_id="c", now=NOW)
    row = family_row(db, "g1")
    assert row is not None and row.revoked_reason == "code_reused"


def test_concurrent_presentations_of_one_token_one_wins_and_the_family_dies(
    families: SqlRefreshFamilies, db: Database
) -> None:
    token = grants_over(families).issue_refresh_token(grant(), now=NOW)
    racers = 4
    barrier = threading.Barrier(racers)
    results: list[object] = []

    def present() -> None:
        grants = grants_over(SqlRefreshFamilies(db))  # one instance per "server"
        barrier.wait()
        try:
            results.append(grants.rotate_refresh_token(token=token, client_id="c", now=NOW))
        except e.InvalidGrantError as exc:
            results.append(exc)

    threads = [threading.Thread(target=present) for _ in range(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    winners = [r for r in results if isinstance(r, tuple)]
    losers = [r for r in results if isinstance(r, e.FamilyRevokedError)]
    assert len(winners) == 1 and len(losers) == racers - 1, results
    _, next_token = winners[0]  # type: ignore[misc]
    with pytest.raises(e.InvalidGrantError, match="revoked"):
        grants_over(families).rotate_refresh_token(token=next_token, client_id="c", now=NOW)


def test_purge_deletes_expired_families_with_their_tokens(
    families: SqlRefreshFamilies, db: Database
) -> None:
    grants = grants_over(families)
    grants.issue_refresh_token(grant("old"), now=NOW - dt.timedelta(days=31))
    live = grants.issue_refresh_token(grant("live"), now=NOW)
    assert families.purge_expired(now=NOW) == 1
    assert family_row(db, "old") is None and family_row(db, "live") is not None
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(OidcRefreshTokenRow)) == 1
    grants.rotate_refresh_token(token=live, client_id="c", now=NOW)


def test_revoke_for_employee_and_deleting_the_employee(
    families: SqlRefreshFamilies, db: Database
) -> None:
    grants = grants_over(families)
    a = grants.issue_refresh_token(grant("a"), now=NOW)
    grants.issue_refresh_token(grant("b"), now=NOW)
    other = grants.issue_refresh_token(grant("c", employee_id="emp-2"), now=NOW)
    assert families.revoke_for_employee("emp-1", now=NOW, reason="deactivated") == 2
    with pytest.raises(e.InvalidGrantError, match="revoked"):
        grants.rotate_refresh_token(token=a, client_id="c", now=NOW)
    _, other = grants.rotate_refresh_token(token=other, client_id="c", now=NOW)
    EmployeeRepository(db).delete("emp-2")
    assert family_row(db, "c") is None, "an employee's families go with the employee"
    with pytest.raises(e.InvalidGrantError, match="unknown"):
        grants.rotate_refresh_token(token=other, client_id="c", now=NOW)


def test_a_family_for_an_unknown_employee_is_refused(families: SqlRefreshFamilies) -> None:
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):
        grants_over(families).issue_refresh_token(grant(employee_id="ghost"), now=NOW)


# -- consent -----------------------------------------------------------------------------------
@pytest.fixture
def consents(families: SqlRefreshFamilies, db: Database) -> SqlConsents:
    return SqlConsents(db)


def test_consent_is_remembered_as_the_union_of_allowed_scopes(consents: SqlConsents) -> None:
    assert consents.scopes(employee_id="emp-1", client_id="c", now=NOW) == frozenset()
    consents.remember(employee_id="emp-1", client_id="c", scopes=("openid", "email"), now=NOW,
                      ttl=DAY)  # fmt: skip
    later = NOW + dt.timedelta(hours=1)
    allowed = consents.remember(employee_id="emp-1", client_id="c", scopes=("openid", "phone"),
                                now=later, ttl=DAY)  # fmt: skip
    assert allowed == {"openid", "email", "phone"}
    assert consents.scopes(employee_id="emp-1", client_id="c", now=later) == allowed
    assert consents.scopes(employee_id="emp-1", client_id="other", now=later) == frozenset()
    assert consents.scopes(employee_id="emp-2", client_id="c", now=later) == frozenset()


def test_consent_expires_and_does_not_carry_old_scopes(consents: SqlConsents) -> None:
    consents.remember(employee_id="emp-1", client_id="c", scopes=("openid", "email"), now=NOW,
                      ttl=DAY)  # fmt: skip
    later = NOW + dt.timedelta(days=2)
    assert consents.scopes(employee_id="emp-1", client_id="c", now=later) == frozenset()
    again = consents.remember(employee_id="emp-1", client_id="c", scopes=("openid",), now=later,
                              ttl=DAY)  # fmt: skip
    assert again == {"openid"}
    assert consents.purge_expired(now=later + dt.timedelta(days=2)) == 1


def test_consent_forget_and_employee_deletion(consents: SqlConsents, db: Database) -> None:
    consents.remember(employee_id="emp-1", client_id="c", scopes=("openid",), now=NOW, ttl=DAY)
    consents.remember(employee_id="emp-2", client_id="c", scopes=("openid",), now=NOW, ttl=DAY)
    assert consents.forget(employee_id="emp-1", client_id="c") is True
    assert consents.forget(employee_id="emp-1", client_id="c") is False
    EmployeeRepository(db).delete("emp-2")
    assert consents.scopes(employee_id="emp-2", client_id="c", now=NOW) == frozenset()


def test_consent_with_too_many_scopes_is_refused(consents: SqlConsents) -> None:
    scopes = tuple(f"s{i}" for i in range(MAX_CONSENT_SCOPES + 1))
    with pytest.raises(ValueError, match="at most"):
        consents.remember(employee_id="emp-1", client_id="c", scopes=scopes, now=NOW, ttl=DAY)
    assert consents.scopes(employee_id="emp-1", client_id="c", now=NOW) == frozenset()


# -- migration 0002 ------------------------------------------------------------------------------
def test_migration_0002_downgrades_and_upgrades_cleanly(db: Database) -> None:
    from alembic import command
    from sqlalchemy import inspect

    from idp.store.sql import migrate
    from idp.store.sql.database import alembic_config

    oidc_tables = {"oidc_grants", "oidc_refresh_tokens", "oidc_consents"}
    assert oidc_tables <= set(inspect(db.engine).get_table_names())
    config = alembic_config()
    try:
        with db.engine.connect() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0001")
            conn.commit()
        assert not oidc_tables & set(inspect(db.engine).get_table_names())
        assert "employees" in inspect(db.engine).get_table_names()
    finally:
        migrate(db.engine)
    assert oidc_tables <= set(inspect(db.engine).get_table_names())
