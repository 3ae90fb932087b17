"""The admin password + TOTP sign-in ceremony over both stores (SQLite + memory, PostgreSQL +
Redis): right answers, wrong ones, replays, recovery codes, the lock and the address limit."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from concurrent.futures import ThreadPoolExecutor

import pyotp
import pytest

from idp.admin import signin
from idp.admin.access import Role
from idp.admin.credential_store import AdminCredentialRepository
from idp.admin.records import AdminUser
from idp.admin.signin import (
    SECRET_PURPOSE,
    AdminSignIn,
    AdminSignInRejected,
    SecondFactorMissing,
    SignInStores,
    new_recovery_codes,
    recovery_digest,
    recovery_record,
    sign_in,
)
from idp.factors.authenticator.totp import new_secret
from idp.factors.kinds import FactorKind
from idp.factors.password import Argon2Params, argon2_verify, hash_password
from idp.factors.password_errors import AccountLocked, PasswordTooLong, TooManyPasswordAttempts
from idp.factors.password_signin import PasswordLimits
from idp.secrets import SecretBox, new_data_key, secret_aad
from idp.store.ephemeral.base import EphemeralStore
from idp.store.sql import Database
from idp.store.sql.repositories.admins import AdminRepository
from idp.store.sql.repositories.employees import EmployeeRepository
from tests.store.sql.helpers import employee

NOW = dt.datetime(2026, 12, 2, 9, 0, 10, tzinfo=dt.UTC)
FAST = Argon2Params(memory_kib=1024, time_cost=1)
PASSWORD = "correct horse battery staple"


@dataclasses.dataclass
class World:
    stores: SignInStores
    secret: str
    codes: list[str]
    admin_id: str = "adm-1"

    def totp(self, at: dt.datetime = NOW) -> str:
        return pyotp.TOTP(self.secret).at(at)

    def attempt(
        self, password: str = PASSWORD, code: str | None = None, *, username: str = "User1",
        ip: str = "192.0.2.1", now: dt.datetime = NOW,
    ) -> AdminSignIn:  # fmt: skip
        return sign_in(
            stores=self.stores, username=username, password=password,
            code=self.totp(now) if code is None else code, client_ip=ip, now=now,
        )  # fmt: skip


@pytest.fixture
def world(db: Database, ephemeral: EphemeralStore) -> World:
    employees, admins = EmployeeRepository(db), AdminRepository(db)
    creds = AdminCredentialRepository(db)
    employees.add(employee(1), now=NOW)
    admins.add(AdminUser("adm-1", "emp-1", Role.ADMIN, NOW, "cli"))
    box = SecretBox()
    master = os.urandom(32)
    box.unlock(new_data_key(master_key=master), master_key=master)
    secret, codes = new_secret(), new_recovery_codes()
    creds.set_password(
        "adm-1", password_hash=hash_password(password=PASSWORD, params=FAST), now=NOW
    )
    sealed = box.encrypt(secret.encode(), aad=secret_aad(SECRET_PURPOSE, "adm-1"))
    records = [recovery_record("adm-1", c, params=FAST) for c in codes]
    creds.set_totp("adm-1", sealed=sealed, codes=records, now=NOW)
    stores = SignInStores(admins, employees, creds, ephemeral, box, FAST, PasswordLimits())
    return World(stores, secret, codes)


def test_password_and_totp_sign_in_once_per_code(world: World) -> None:
    assert len(world.secret) == 32 and len(world.codes) == 10
    assert all(len(c) == 8 for c in world.codes) and len(set(world.codes)) == 10
    done = world.attempt()
    assert done.admin.id == "adm-1" and done.employee.username == "User1"
    assert [u.kind for u in done.factors] == [FactorKind.PASSWORD, FactorKind.TOTP]
    assert [u.amr for u in done.factors] == [("pwd",), ("otp",)]
    with pytest.raises(AdminSignInRejected) as replay:  # the same code within its step
        world.attempt()
    assert replay.value.why == "code_reused" and replay.value.status == 401
    assert replay.value.description == "the username, password or code is not correct"
    later = NOW + dt.timedelta(seconds=30)
    assert world.attempt(now=later).admin.id == "adm-1"


def test_two_parallel_requests_with_one_code_let_one_in(world: World) -> None:
    def one(_: int) -> str:
        try:
            world.attempt()
        except AdminSignInRejected as exc:
            return exc.why
        return "ok"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(one, range(2)))
    assert outcomes == ["code_reused", "ok"]


def test_recovery_codes_work_once_each_and_are_stored_hashed(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = world.stores.credentials.get("adm-1")
    assert stored is not None and len(stored.recovery_codes) == 10
    for code, record in zip(world.codes, stored.recovery_codes, strict=True):
        digest = recovery_digest("adm-1", code)
        tag, _, phc = record.partition("$")
        # argon2id behind a 2-digit tag: neither the code nor its fast digest is stored
        assert tag == digest[:2] and phc.startswith("$argon2id$") and digest not in record
        assert code not in record
    checked: list[str] = []

    def counting(stored_hash: str, secret: str) -> bool:
        checked.append(stored_hash)
        return argon2_verify(stored_hash, secret)

    monkeypatch.setattr(signin, "argon2_verify", counting)
    first = world.codes[0]
    done = world.attempt(code=first.upper()[:4] + "-" + first[4:])
    assert done.recovery_codes_left == 9
    # The tag finds the record: argon2 runs for the records sharing it, not for all ten.
    same_tag = [r for r in stored.recovery_codes if r[:2] == stored.recovery_codes[0][:2]]
    assert len(checked) <= len(same_tag) < 10
    with pytest.raises(AdminSignInRejected) as again:
        world.attempt(code=first)
    assert again.value.why == "wrong_recovery_code"


@pytest.mark.parametrize(
    ("password", "code", "why"),
    [
        ("wrong password", None, "wrong_password"),
        (PASSWORD, "000000x", "wrong_code"),
        (PASSWORD, "12345", "wrong_code"),
        (PASSWORD, "zzzzzzzz", "wrong_recovery_code"),
        (PASSWORD, "9" * 17, "code_too_long"),
        (PASSWORD, "' OR 1=1 --", "wrong_code"),
    ],
)
def test_wrong_answers_are_one_refusal(
    world: World, password: str, code: str | None, why: str
) -> None:
    with pytest.raises(AdminSignInRejected) as refused:
        world.attempt(password, code)
    assert refused.value.why == why


def test_unknown_users_and_oversized_passwords(world: World) -> None:
    with pytest.raises(AdminSignInRejected) as unknown:
        world.attempt(username="nobody")
    assert unknown.value.why == "unknown_user"
    with pytest.raises(AdminSignInRejected):
        world.attempt(username="x" * 100_000)
    with pytest.raises(PasswordTooLong):
        world.attempt("p" * 1_000_000)


def test_ten_wrong_attempts_lock_for_15_minutes_or_until_unlocked(world: World) -> None:
    for n in range(10):
        with pytest.raises(AdminSignInRejected) as wrong:
            world.attempt("wrong password", ip=f"198.51.100.{n}")
    assert wrong.value.locked_until == NOW + dt.timedelta(minutes=15)
    with pytest.raises(AccountLocked, match="try again in 15 minutes"):
        world.attempt()  # even the right answers
    assert world.attempt(now=NOW + dt.timedelta(minutes=15, seconds=1)).admin.id == "adm-1"
    for n in range(10):
        with pytest.raises(AdminSignInRejected):
            world.attempt(PASSWORD, "000000", ip=f"198.51.100.{n}")  # wrong codes count too
    with pytest.raises(AccountLocked):
        world.attempt()
    assert world.stores.credentials.unlock("adm-1")
    assert world.attempt(now=NOW + dt.timedelta(minutes=16)).admin.id == "adm-1"


def test_unknown_usernames_lock_alike(world: World) -> None:
    for n in range(10):
        with pytest.raises(AdminSignInRejected):
            world.attempt(username="ghost", ip=f"203.0.113.{n}")
    with pytest.raises(AccountLocked):
        world.attempt(username="ghost", ip="203.0.113.99")


def test_one_address_may_fail_only_so_often_a_minute(world: World) -> None:
    limits = dataclasses.replace(world.stores.limits, failures_per_address_per_minute=3)
    world.stores = dataclasses.replace(world.stores, limits=limits)
    for _ in range(3):
        with pytest.raises(AdminSignInRejected):
            world.attempt(username="ghost-2")
    with pytest.raises(TooManyPasswordAttempts):
        world.attempt()  # even right answers wait: the address is guessing
    assert world.attempt(ip="192.0.2.200").admin.id == "adm-1"


def test_a_password_alone_never_signs_in(world: World) -> None:
    world.stores.credentials.set_totp("adm-1", sealed=None, codes=[], now=NOW)
    with pytest.raises(SecondFactorMissing, match="no second factor"):
        world.attempt()
